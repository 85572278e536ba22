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
  // member key -> { key, peerId, clientId, name, audio, video, screen,
  //                connection, health, quality, stream }
  members = new Map();
  activeSpeaker = '';    // a member key, 'local', or '' (nobody yet)
  chat = [];             // { from, text, own }

  update(changes) {
    Object.assign(this, changes);
    this.#changed();
  }

  setMember(key, changes) {
    const member = this.members.get(key) ?? {
      key, peerId: '', clientId: '', name: '', audio: true, video: true, screen: false,
      connection: 'new', health: null, quality: 'unknown', stream: null,
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
