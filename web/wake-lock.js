// Keeps the screen on while wanted (during a call: a phone would dim and
// lock in the middle of one). The browser drops the lock when the page is
// hidden, so it is asked for again when the page shows.
export class ScreenWakeLock {
  #sentinel = null;   // the WakeLockSentinel while held
  #asking = false;    // a request is out, or was refused while visible
  #wanted = false;

  constructor() {
    document.addEventListener('visibilitychange', () => {
      this.#asking = false;
      this.want(this.#wanted);
    });
  }

  get held() {
    return this.#sentinel !== null && !this.#sentinel.released;
  }

  async want(wanted) {
    this.#wanted = wanted;
    if (!('wakeLock' in navigator)) return;
    if (wanted && !this.#sentinel && !this.#asking && document.visibilityState === 'visible') {
      this.#asking = true;
      try {
        const sentinel = await navigator.wakeLock.request('screen');
        sentinel.addEventListener('release', () => {
          if (this.#sentinel === sentinel) this.#sentinel = null;
        });
        this.#sentinel = sentinel;
        this.#asking = false;
        if (!this.#wanted) this.want(false);
      } catch (error) {
        // Refused (battery saver, policy): the call goes on, the screen may dim.
        console.warn('p2pcall: the screen may dim during the call:', error.message);
      }
    } else if (!wanted && this.#sentinel) {
      const sentinel = this.#sentinel;
      this.#sentinel = null;
      sentinel.release();
    }
  }
}
