export class DaytonaProvider { static async start(): Promise<never> { throw new Error("todo"); } }
