import { useState } from 'react';

export default function App() {
  const [count, setCount] = useState(0);
  return (
    <main style={{ fontFamily: 'system-ui, sans-serif', textAlign: 'center', marginTop: '20vh' }}>
      <h1>Hello from Vite + React</h1>
      <button onClick={() => setCount((c) => c + 1)}>Clicked {count} times</button>
      <p>Edit <code>src/App.jsx</code>; the page reloads as you save.</p>
    </main>
  );
}
