"""The Python MCP SDK as a client: it validates every structured result against the tool's output
schema (jsonschema) and raises on a mismatch. Calls the tools whose results change shape with the
result budget, big and small, and prints one JSON line per call. argv: node, cli.js."""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

CALLS = [
    ("shell_exec", {"command": "echo small"}),
    ("shell_exec", {"command": "seq 1 400000"}),
    ("shell_exec", {"command": "exit 3"}),
    ("shell_exec", {"command": "seq 1 100000 | sed 's/$/ some text/' > big.txt"}),
    ("file_read", {"path": "big.txt"}),
    ("file_read", {"path": "big.txt", "offset": 5, "limit": 2}),
    ("file_search", {"pattern": "text", "max_results": 1000}),
    ("shell_start", {"command": "seq 1 200000"}),
    ("shell_list", {}),
    ("sandbox_info", {}),
    ("webdev_list", {}),
    ("deploy_list", {}),
]


async def main() -> None:
    params = StdioServerParameters(
        command=sys.argv[1], args=[sys.argv[2]], env={**os.environ, "SANDBOX_WARM_POOL": "0", "LOG_LEVEL": "warn"}
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            await session.list_tools()  # the SDK keeps the output schemas it validates with
            for name, args in CALLS:
                result = await session.call_tool(name, args)
                sent = len(json.dumps({"content": [c.model_dump() for c in result.content], "structuredContent": result.structured_content}))
                print(json.dumps({"tool": name, "isError": result.is_error, "validated": result.structured_content is not None, "chars": sent}), flush=True)
            processes = (await session.call_tool("shell_list", {})).structured_content["processes"]
            read_all = await session.call_tool("shell_read", {"processId": processes[0]["processId"], "wait_s": 5})
            print(json.dumps({"tool": "shell_read", "isError": read_all.is_error, "validated": True, "chars": 0}), flush=True)


asyncio.run(main())
