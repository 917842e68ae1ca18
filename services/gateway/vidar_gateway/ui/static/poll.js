// Live updates by polling the API: the same reads a script would make, no extra server state.
// A poll waits for the previous one to finish, and pauses while the tab is hidden.

export function poll(read, intervalMs) {
  let timer = null;
  let stopped = false;
  async function tick() {
    if (stopped) return;
    if (!document.hidden) {
      try { await read(); } catch (error) { console.warn("poll failed", error); }
    }
    if (!stopped) timer = setTimeout(tick, intervalMs);
  }
  timer = setTimeout(tick, intervalMs);
  return () => { stopped = true; clearTimeout(timer); };
}
