// "Recent calls" on the join screen: kept in this browser's localStorage
// only (room, when, how long, with whom); the server is never asked.
// A call is written as it goes, so a closed tab still leaves its entry.

const STORAGE_KEY = 'p2pcall.recentCalls';
const MAX_CALLS = 20;

// Each entry: { room, startedAt, endedAt (ms since epoch), with: [names] }.
export function loadRecentCalls(storage = localStorage) {
  try {
    const calls = JSON.parse(storage.getItem(STORAGE_KEY) ?? '[]');
    return Array.isArray(calls) ? calls.filter((c) => typeof c?.room === 'string') : [];
  } catch {
    return [];
  }
}

export function clearRecentCalls(storage = localStorage) {
  storage.removeItem(STORAGE_KEY);
}

// One call in progress: begin() when joined, note() as members come and
// every so often, end() on leaving.
export class RecentCall {
  #storage;
  #entry = null;

  constructor(storage = localStorage) {
    this.#storage = storage;
  }

  begin(room) {
    const now = Date.now();
    this.#entry = { room, startedAt: now, endedAt: now, with: [] };
    this.#save();
  }

  note(names) {
    if (!this.#entry) return;
    for (const name of names) if (name && !this.#entry.with.includes(name)) this.#entry.with.push(name);
    this.#entry.endedAt = Date.now();
    this.#save();
  }

  end() {
    this.note([]);
    this.#entry = null;
  }

  #save() {
    const entry = this.#entry;
    const others = loadRecentCalls(this.#storage)
      .filter((c) => !(c.room === entry.room && c.startedAt === entry.startedAt));
    try {
      this.#storage.setItem(STORAGE_KEY, JSON.stringify([entry, ...others].slice(0, MAX_CALLS)));
    } catch {
      // storage full or disabled: the call goes unrecorded
    }
  }
}

// "3 min", "45 s", "1 h 5 min".
export function formatDuration(ms) {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
