// What the view shows, and nothing else: changed only by RoomSession, read
// only by the view. Each change dispatches one 'change' event.

export class CallState extends EventTarget {
  signalling = 'idle';   // SignallingStatus
  roomId = '';
  ownId = '';
  inCall = false;
  error = '';            // the last server or call error, in plain words
  notice = '';           // no camera / microphone and the like
  local = { audio: true, video: true, screen: false, hasAudio: false, hasVideo: false };
  // member key -> { key, peerId, name, audio, video, screen, connection, health, stream }
  members = new Map();
  chat = [];             // { from, text, own }

  update(changes) {
    Object.assign(this, changes);
    this.#changed();
  }

  setMember(key, changes) {
    const member = this.members.get(key) ?? {
      key, peerId: '', name: '', audio: true, video: true, screen: false,
      connection: 'new', health: null, stream: null,
    };
    this.members.set(key, { ...member, ...changes });
    this.#changed();
  }

  removeMember(key) {
    if (this.members.delete(key)) this.#changed();
  }

  addChat(entry) {
    this.chat = [...this.chat, entry];
    this.#changed();
  }

  #changed() {
    this.dispatchEvent(new Event('change'));
  }
}
