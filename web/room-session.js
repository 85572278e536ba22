// The call in one room: turns protocol events into peer connections and call
// state. One PeerConnection per remote member (a mesh).
//
// Surviving a signalling restart. A member's server id changes whenever its
// socket rejoins, but its RTCPeerConnections need no server while they stay
// connected. So each tab makes a random clientId and sends it in every
// peer-state (the server relays state objects as they are). Members are keyed
// locally by that clientId, not by server id:
// - when our own socket rejoins, every member loses its server id and becomes
//   an orphan; its connection (and tile) stays while it is connected;
// - a rejoined member is recognised by its clientId, from the `peers` of our
//   `joined` or from its next `peer-state`, and the orphan is given the new id:
//   no new offer, no second tile;
// - the member already in the room offers on `user-joined`, except while we
//   hold orphans: then it waits for the newcomer's peer-state (which our
//   clients send right after `joined`) for at most OFFER_WAIT_MS, so a
//   rejoining member is not offered a second connection;
// - when the server says a member left but its connection is still up and it
//   did not say goodbye over the data channel, it is kept as an orphan for
//   ORPHAN_GRACE_MS, time for its socket to rejoin.
// Orphans whose connection fails, closes or outlives the grace are dropped.
import {
  buildPeerState, errorInPlainWords, ErrorCode, isPolite, MessageType, STATE_CLIENT_ID,
} from './protocol.js';
import { PeerConnection, usableIceServers } from './peer-connection.js';
import { connectionQuality, summarizeStats } from './stats.js';
import { displayName } from './names.js';
import { FILE_CHANNEL_PREFIX, FileMessage, FileTransfers } from './file-transfer.js';

const OFFER_WAIT_MS = 2000;
const ORPHAN_GRACE_MS = 20000;
const BYE_FLUSH_MS = 250;
const STATS_INTERVAL_MS = 1000;
// Audio level (0..1, from getStats) above which a member counts as speaking;
// the fake microphones' tone and speech are well above, room noise below.
const SPEAKING_LEVEL = 0.03;

const DataType = Object.freeze({ CHAT: 'chat', BYE: 'bye' });

export class RoomSession {
  state;
  files;   // FileTransfers with the members
  #signalling;
  #media;
  #clientId = crypto.randomUUID();
  #name = '';
  #iceServers = [];
  #iceTransportPolicy;
  #members = new Map();        // key -> { key, peerId, clientId, pc, leaving, graceTimer, stats }
  #pendingOffers = new Map();  // peer id -> timer
  #statsTimer = null;

  // @iceTransportPolicy 'relay' sends media through TURN servers only.
  constructor({ signalling, media, state, iceTransportPolicy = 'all' }) {
    this.#signalling = signalling;
    this.#iceTransportPolicy = iceTransportPolicy;
    this.#media = media;
    this.state = state;
    this.files = new FileTransfers({
      send: (key, message) => this.#members.get(key)?.pc?.sendData(message) ?? false,
      openChannel: (key, label) => this.#members.get(key)?.pc?.openChannel(label) ?? null,
      memberName: (key) => this.#nameOf(key),
    });
    signalling.addEventListener('status', ({ detail }) => state.update({ signalling: detail }));
    signalling.addEventListener('message', ({ detail }) => this.#dispatch(detail));
    media.addEventListener('track', ({ detail }) => this.#replaceTrack(detail.kind, detail.track));
    media.addEventListener('change', () => this.#localChanged());
    this.#localChanged();
  }

  join(roomId, name, token) {
    this.#name = name;
    this.state.update({ roomId, error: '' });
    this.#signalling.join(roomId, name, token);
  }

  leave() {
    for (const member of this.#members.values()) this.#removeMember(member, { sayBye: true });
    for (const timer of this.#pendingOffers.values()) clearTimeout(timer);
    this.#pendingOffers.clear();
    clearInterval(this.#statsTimer);
    this.#statsTimer = null;
    this.#signalling.leave();
    this.state.update({ inCall: false, ownId: '' });
  }

  sendChat(text) {
    for (const member of this.#members.values()) member.pc?.sendData({ type: DataType.CHAT, text, name: this.#name });
    this.state.addChat({ from: this.#name || 'You', text, own: true });
  }

  // Members a file can go to now (their chat channel is open): [{ key, name }].
  get fileRecipients() {
    return [...this.#members.values()].filter((m) => m.pc?.channelOpen).map((m) => ({ key: m.key, name: this.#nameOf(m.key) }));
  }

  #nameOf(key) {
    const shown = this.state.members.get(key);
    return shown ? displayName(shown) : 'A member';
  }

  // For tests and debugging: the live peer connections.
  get peerConnections() {
    return [...this.#members.values()].map((m) => m.pc).filter(Boolean);
  }

  #dispatch(msg) {
    switch (msg.type) {
      case MessageType.JOINED: return this.#joined(msg);
      case MessageType.USER_JOINED: return this.#userJoined(msg);
      case MessageType.PEER_STATE: return this.#peerState(msg.from, msg.state ?? {});
      case MessageType.OFFER: return this.#description(msg.from, msg.offer);
      case MessageType.ANSWER: return this.#description(msg.from, msg.answer);
      case MessageType.ICE_CANDIDATE: return this.#memberById(msg.from)?.pc?.handleCandidate(msg.candidate);
      case MessageType.USER_DISCONNECTED: return this.#userDisconnected(msg.from);
      case MessageType.ERROR: return this.#error(msg);
      default: return undefined;
    }
  }

  #joined(msg) {
    this.#iceServers = usableIceServers(Array.isArray(msg.iceServers) ? msg.iceServers : []);
    // Our old id is gone, and with it every id we knew (see the top comment).
    for (const member of this.#members.values()) this.#orphan(member);
    this.state.update({ inCall: true, ownId: msg.id, roomId: msg.roomId, error: '' });
    this.#sendPeerState();
    for (const peer of msg.peers ?? []) {
      const member = this.#adopt(peer.id, peer.state?.[STATE_CLIENT_ID]);
      this.#applyState(member, { name: peer.name, ...peer.state });
    }
    if (!this.#statsTimer) this.#statsTimer = setInterval(() => this.#pollStats(), STATS_INTERVAL_MS);
  }

  #userJoined(msg) {
    if (!msg.from) return;
    const hasOrphans = [...this.#members.values()].some((m) => !m.peerId);
    if (!hasOrphans) {
      this.#startCall(msg.from, msg.name);
      return;
    }
    this.#pendingOffers.set(msg.from, setTimeout(() => this.#startCall(msg.from, msg.name), OFFER_WAIT_MS));
  }

  // We are the member already in the room: we offer.
  #startCall(peerId, name) {
    clearTimeout(this.#pendingOffers.get(peerId));
    this.#pendingOffers.delete(peerId);
    // The member may exist already without a connection: its peer-state
    // (which ends the wait while we hold orphans) made it.
    const known = this.#memberById(peerId);
    if (known?.pc) return;
    const member = known ?? this.#adopt(peerId, null);
    this.#connect(member, true);
    this.#applyState(member, { name });
  }

  #peerState(peerId, remoteState) {
    if (!peerId) return;
    const member = this.#adopt(peerId, remoteState[STATE_CLIENT_ID]);
    if (this.#pendingOffers.has(peerId)) {
      if (member.pc) {
        clearTimeout(this.#pendingOffers.get(peerId));
        this.#pendingOffers.delete(peerId);
      } else {
        this.#startCall(peerId, remoteState.name);
      }
    }
    this.#applyState(member, remoteState);
  }

  #description(peerId, description) {
    if (!peerId || !description) return;
    let member = this.#memberById(peerId);
    if (!member) member = this.#adopt(peerId, null);
    if (member.pc && description.type === 'offer' && member.pc.isNewSession(description)) {
      // The member started its connection over: same member, new connection.
      member.pc.close();
      member.pc = null;
    }
    if (!member.pc) this.#connect(member, false);
    member.pc.handleDescription(description);
  }

  #userDisconnected(peerId) {
    clearTimeout(this.#pendingOffers.get(peerId));
    this.#pendingOffers.delete(peerId);
    const member = this.#memberById(peerId);
    if (!member) return;
    if (member.pc?.connectionState === 'connected' && !member.leaving) this.#orphan(member);
    else this.#removeMember(member);
  }

  #error(msg) {
    this.state.update({ error: errorInPlainWords(msg.code, msg.message) });
    if (msg.inReplyTo === MessageType.JOIN_ROOM && msg.code !== ErrorCode.ALREADY_IN_ROOM) {
      this.state.update({ inCall: false });
    }
  }

  // Finds or makes the member for a server id, merging it into the orphan
  // with the same clientId when there is one. Only an orphan (a member the
  // server no longer lists) is merged: clientIds are seen by every member,
  // and one copied by another member must not take over a live member's
  // tile and connection.
  #adopt(peerId, clientId) {
    let member = this.#memberById(peerId);
    const holder = clientId && [...this.#members.values()].find((m) => m.clientId === clientId && m !== member);
    const orphan = holder && !holder.peerId ? holder : null;
    if (orphan && (!member || !member.pc || member.pc.connectionState !== 'connected')) {
      if (member) this.#removeMember(member);
      clearTimeout(orphan.graceTimer);
      orphan.peerId = peerId;
      if (orphan.pc) {
        orphan.pc.remoteId = peerId;
        orphan.pc.polite = isPolite(this.state.ownId, peerId);
        orphan.pc.resendPendingOffer();
      }
      this.state.setMember(orphan.key, { peerId });
      return orphan;
    }
    if (!member) {
      member = { key: `member-${peerId}`, peerId, clientId: null, pc: null, leaving: false, graceTimer: null, stats: null };
      this.#members.set(member.key, member);
      this.state.setMember(member.key, { peerId });
    }
    // A clientId a live member holds stays that member's.
    if (clientId && !holder && member.clientId !== clientId) {
      member.clientId = clientId;
      this.state.setMember(member.key, { clientId });
    }
    return member;
  }

  #connect(member, offerer) {
    const pc = new PeerConnection({
      remoteId: member.peerId,
      polite: isPolite(this.state.ownId, member.peerId),
      offerer,
      iceServers: this.#iceServers,
      iceTransportPolicy: this.#iceTransportPolicy,
      localStream: this.#media.stream,
      send: (msg) => this.#signalling.send(msg),
    });
    member.pc = pc;
    // A connection replaced by a new one (see #description), or whose member
    // is gone, speaks no more: a late event would bring its tile back.
    const current = (handler) => (event) => {
      if (member.pc === pc && this.#members.get(member.key) === member) handler(event);
    };
    pc.addEventListener('track', current(({ detail }) => this.state.setMember(member.key, { stream: detail })));
    pc.addEventListener('state', current(({ detail }) => {
      this.state.setMember(member.key, { connection: detail });
      if (detail === 'closed' || (detail === 'failed' && !member.peerId)) this.#removeMember(member);
    }));
    pc.addEventListener('gave-up', current(() => this.#removeMember(member)));
    // The other side closed its connection: it left, whatever the server says.
    pc.addEventListener('channel-close', current(() => this.#removeMember(member)));
    pc.addEventListener('data', current(({ detail }) => {
      if (detail.type === DataType.BYE) {
        member.leaving = true;
        // The server may have said it left before this arrived: it is not
        // coming back, so no grace period.
        if (!member.peerId) this.#removeMember(member);
      }
      if (detail.type === DataType.CHAT && typeof detail.text === 'string') {
        this.state.addChat({ from: String(detail.name || this.#nameOf(member.key)), text: detail.text, own: false });
      }
      if (Object.values(FileMessage).includes(detail.type)) this.files.handleMessage(member.key, detail);
    }));
    // Channels of other kinds are left alone, as before.
    pc.addEventListener('other-channel', current(({ detail }) => {
      if (detail.label.startsWith(FILE_CHANNEL_PREFIX)) this.files.handleChannel(member.key, detail);
    }));
    // Who can receive files changed.
    pc.addEventListener('channel-open', current(() => this.state.setMember(member.key, {})));
  }

  #orphan(member) {
    member.peerId = '';
    this.state.setMember(member.key, { peerId: '' });
    clearTimeout(member.graceTimer);
    if (member.pc?.connectionState !== 'connected') {
      this.#removeMember(member);
      return;
    }
    member.graceTimer = setTimeout(() => {
      if (!member.peerId) this.#removeMember(member);
    }, ORPHAN_GRACE_MS);
  }

  #removeMember(member, { sayBye = false } = {}) {
    if (!this.#members.has(member.key)) return;
    this.files.memberLeft(member.key, this.#nameOf(member.key));
    this.#members.delete(member.key);
    clearTimeout(member.graceTimer);
    if (sayBye && member.pc?.sendData({ type: DataType.BYE })) {
      // Closed a moment later: closing at once can drop the goodbye
      // (Firefox does), and the others would keep our tile for a grace
      // period, waiting for us to come back.
      const pc = member.pc;
      setTimeout(() => pc.close(), BYE_FLUSH_MS);
    } else {
      member.pc?.close();
    }
    this.state.removeMember(member.key);
  }

  #memberById(peerId) {
    if (!peerId) return undefined;
    return [...this.#members.values()].find((m) => m.peerId === peerId);
  }

  #applyState(member, remote) {
    const changes = {};
    for (const field of ['audio', 'video', 'screen']) {
      if (typeof remote[field] === 'boolean') changes[field] = remote[field];
    }
    if (typeof remote.name === 'string' && remote.name) changes.name = remote.name;
    this.state.setMember(member.key, changes);
  }

  #localChanged() {
    const media = this.#media;
    this.state.update({
      notice: media.notice,
      local: {
        audio: media.audioEnabled && media.has('audio'),
        video: media.videoEnabled && media.has('video'),
        screen: media.sharingScreen,
        hasAudio: media.has('audio'),
        hasVideo: media.has('video'),
      },
    });
    this.#sendPeerState();
  }

  #sendPeerState() {
    if (!this.state.inCall) return;
    const { audio, video, screen } = this.state.local;
    this.#signalling.send(buildPeerState({ audio, video, screen, name: this.#name, clientId: this.#clientId }));
  }

  #replaceTrack(kind, track) {
    for (const member of this.#members.values()) member.pc?.replaceTrack(kind, track);
  }

  async #pollStats() {
    let localLevel = 0;
    for (const member of this.#members.values()) {
      const { pc } = member;
      if (!pc || pc.connectionState !== 'connected') continue;
      try {
        const report = await pc.getStats();
        // It left meanwhile: setting its health would bring its tile back.
        if (this.#members.get(member.key) !== member || member.pc !== pc) continue;
        const previous = member.stats;
        member.stats = summarizeStats(report, previous);
        localLevel = Math.max(localLevel, member.stats.localAudioLevel);
        this.state.setMember(member.key, { health: member.stats, quality: connectionQuality(member.stats, previous) });
      } catch {
        // the connection closed meanwhile
      }
    }
    this.#pickSpeaker(localLevel);
  }

  // The loudest member above SPEAKING_LEVEL speaks; when nobody does, the
  // last one keeps the highlight (as call apps do), unless it left.
  #pickSpeaker(localLevel) {
    let speaker = '';
    let loudest = SPEAKING_LEVEL;
    if (this.state.local.audio && localLevel > loudest) {
      speaker = 'local';
      loudest = localLevel;
    }
    for (const member of this.state.members.values()) {
      const level = member.audio ? member.health?.audioLevel ?? 0 : 0;
      if (level > loudest) {
        speaker = member.key;
        loudest = level;
      }
    }
    const current = this.state.activeSpeaker;
    const stillHere = current === 'local' || this.state.members.has(current);
    if (!speaker && stillHere) return;
    if (speaker !== current) this.state.update({ activeSpeaker: speaker });
  }
}
