// One RTCPeerConnection to one remote member, with perfect negotiation
// (https://w3c.github.io/webrtc-pc/#perfect-negotiation-example), a chat
// data channel and ICE restarts. Signalling goes out through @send; the
// caller feeds what arrives into handleDescription/handleCandidate.
import { buildCandidate, buildDescription } from './protocol.js';

const MAX_ICE_RESTARTS = 2;
// How long an answer to a restart offer waits for the offerer's first
// candidate (handleDescription) before it goes out all the same.
const RESTART_ANSWER_WAIT_MS = 1000;
// libwebrtc writes its extension attributes into every candidate line.
const LIBWEBRTC_CANDIDATE = / generation \d+/;
const CHAT_LABEL = 'chat';

// The part of @iceServers (RTCIceServer objects from `joined`) that this
// browser accepts, URL by URL. One refused URL makes the RTCPeerConnection
// constructor throw, so without this a single server the browser dislikes
// means no call at all; browsers differ there (Firefox refuses `stuns:` and
// ports on its blocked list, which Chromium takes).
export function usableIceServers(iceServers) {
  const accepted = (servers) => {
    try {
      new RTCPeerConnection({ iceServers: servers }).close();
      return true;
    } catch (error) {
      return error;
    }
  };
  if (accepted(iceServers) === true) return iceServers;
  const usable = [];
  for (const server of iceServers) {
    const urls = [].concat(server.urls ?? []).filter((url) => {
      const result = accepted([{ ...server, urls: [url] }]);
      if (result !== true) console.warn(`p2pcall: this browser refuses ICE server ${url}: ${result.message}`);
      return result === true;
    });
    if (urls.length) usable.push({ ...server, urls });
  }
  return usable;
}

// The session id of an SDP's o= line ("o=- 4611731400430051336 2 IN IP4 ...").
function sdpSessionId(sdp) {
  return /^o=\S+ (\S+)/m.exec(sdp ?? '')?.[1] ?? '';
}

// Events: 'track' (detail: MediaStream), 'state' (detail: connectionState),
// 'data' (detail: parsed data-channel message), 'channel-open', 'channel-close',
// 'gave-up', 'other-channel' (detail: an RTCDataChannel the member opened
// besides the chat channel, such as a file's: see file-transfer.js).
export class PeerConnection extends EventTarget {
  remoteId;
  #pc;
  #send;
  #polite;
  #makingOffer = false;
  #ignoreOffer = false;
  #queue = Promise.resolve();   // descriptions and candidates, in arrival order
  #channel = null;
  #iceRestarts = 0;
  #heldCandidates = [];         // ours, for a restart offer (#localCandidate)
  #holdingCandidates = false;
  #agentPrunesEarlyChecks = null;   // known from our first candidate
  #remoteRunsLibwebrtc = null;      // known from its first candidate
  #localStream;
  #remoteStream = new MediaStream();
  #remoteSessionId = null;      // of the member's last description

  // @offerer: true for the member already in the room (PROTOCOL.md "Who
  // offers"); it creates the transceivers and the chat channel.
  constructor({ remoteId, polite, offerer, iceServers, iceTransportPolicy = 'all', localStream, send }) {
    super();
    this.remoteId = remoteId;
    this.#polite = polite;
    this.#send = send;
    this.#localStream = localStream;
    this.#pc = new RTCPeerConnection({ iceServers, iceTransportPolicy });
    this.#pc.onicecandidate = ({ candidate }) => this.#localCandidate(candidate);
    this.#pc.onnegotiationneeded = () => this.#offer();
    this.#pc.ontrack = ({ track }) => {
      this.#remoteStream.addTrack(track);
      this.dispatchEvent(new CustomEvent('track', { detail: this.#remoteStream }));
    };
    this.#pc.onconnectionstatechange = () => this.#connectionStateChanged();
    this.#pc.ondatachannel = ({ channel }) => this.#adoptChannel(channel);
    if (offerer) {
      for (const kind of ['audio', 'video']) {
        const track = localStream.getTracks().find((t) => t.kind === kind);
        this.#pc.addTransceiver(track ?? kind, { direction: 'sendrecv', streams: [localStream] });
      }
      this.#adoptChannel(this.#pc.createDataChannel(CHAT_LABEL));
    }
  }

  get connectionState() { return this.#pc.connectionState; }
  get polite() { return this.#polite; }
  set polite(value) { this.#polite = value; }
  get channelOpen() { return this.#channel?.readyState === 'open'; }
  get signalingState() { return this.#pc.signalingState; }
  get localDescription() { return this.#pc.localDescription; }

  // True when @description (an offer) starts a new connection rather than
  // renegotiating this one: its SDP session id (o= line) is not that of
  // what the member sent before (PROTOCOL.md "Who offers"). Compared with
  // what arrived, not with the remote description, which lags behind while
  // a description is being applied.
  isNewSession(description) {
    return this.#remoteSessionId !== null && sdpSessionId(description.sdp) !== this.#remoteSessionId;
  }

  // New ICE credentials; negotiationneeded then sends the restart offer.
  restartIce() {
    this.#pc.restartIce();
  }

  // An offer made while the signalling socket was down never left: after a
  // rejoin (a new remote id) it goes out again, with the candidates its
  // local description gathered meanwhile, unless they are held
  // (#localCandidate).
  resendPendingOffer() {
    const offer = this.#pc.localDescription;
    if (this.#pc.signalingState !== 'have-local-offer' || !offer) return;
    const sdp = this.#holdingCandidates ? withoutCandidates(offer.sdp) : offer.sdp;
    this.#send(buildDescription({ type: offer.type, sdp }, this.remoteId));
  }

  handleDescription(description) {
    this.#remoteSessionId = sdpSessionId(description.sdp);
    this.#enqueue(async () => {
      const collision = description.type === 'offer' &&
        (this.#makingOffer || this.#pc.signalingState !== 'stable');
      this.#ignoreOffer = !this.#polite && collision;
      if (this.#ignoreOffer) return;
      const remoteUfrag = iceUfrag(this.#pc.currentRemoteDescription?.sdp);
      await this.#pc.setRemoteDescription(description);
      if (description.type === 'offer') {
        this.#sendOnOfferedTransceivers();
        // A restart offer from Firefox's agent: libwebrtc pairs the new
        // candidates our answer brings up with every remote candidate it
        // knows, the old ones too, and Firefox's old agent answers those
        // checks. libwebrtc then settled on such a pair (1 restart in 20 on a
        // busy machine) and pruned the new ones, and Firefox's new agent,
        // never nominated, never finished the restart. So our answer waits
        // for the offerer's first new candidate, at most
        // RESTART_ANSWER_WAIT_MS: the new pairs are there from the start.
        const restart = remoteUfrag !== undefined && iceUfrag(description.sdp) !== remoteUfrag;
        if (this.#agentPrunesEarlyChecks && this.#remoteRunsLibwebrtc === false && restart &&
          !/^a=candidate:/m.test(description.sdp)) {
          setTimeout(() => this.#enqueue(() => this.#answer()), RESTART_ANSWER_WAIT_MS);
        } else {
          await this.#answer();
        }
      } else if (this.#holdingCandidates &&
        (/^a=candidate:/m.test(description.sdp) || iceUfrag(description.sdp) === remoteUfrag)) {
        // Its candidates are in the answer, or it kept its credentials and
        // none is coming (webrtcbin answers a restart without restarting).
        this.#releaseCandidates();
      }
    });
  }

  handleCandidate(candidate) {
    if (candidate?.candidate) this.#remoteRunsLibwebrtc ??= LIBWEBRTC_CANDIDATE.test(candidate.candidate);
    this.#enqueue(async () => {
      try {
        await this.#pc.addIceCandidate(candidate ?? undefined);
      } catch (error) {
        if (!this.#ignoreOffer) throw error;
      } finally {
        // The answerer's first candidate after its answer to our restart.
        if (this.#holdingCandidates && this.#pc.signalingState === 'stable') this.#releaseCandidates();
        // The offerer's first candidate after its restart offer (#answer
        // does nothing unless an answer is still due).
        await this.#answer();
      }
    });
  }

  // Swaps what goes out without renegotiating (camera <-> screen, device change).
  async replaceTrack(kind, track) {
    const transceiver = this.#pc.getTransceivers().find((t) => t.receiver.track.kind === kind);
    await transceiver?.sender.replaceTrack(track);
  }

  sendData(message) {
    if (!this.channelOpen) return false;
    this.#channel.send(JSON.stringify(message));
    return true;
  }

  // A channel of its own, e.g. for one file (no renegotiation: the
  // connection's SCTP association carries it); null until the chat channel
  // is open or once the connection is closed.
  openChannel(label) {
    if (this.#pc.connectionState === 'closed' || !this.channelOpen) return null;
    return this.#pc.createDataChannel(label, { ordered: true });
  }

  outgoingTrack(kind) {
    return this.#pc.getSenders().find((s) => s.track?.kind === kind)?.track ?? null;
  }

  getStats() {
    return this.#pc.getStats();
  }

  close() {
    this.#channel?.close();
    this.#pc.close();
  }

  // The answerer's transceivers come from the offer as recvonly: give them
  // our tracks so the call goes both ways without another round.
  #sendOnOfferedTransceivers() {
    for (const transceiver of this.#pc.getTransceivers()) {
      if (transceiver.sender.track || transceiver.currentDirection === 'stopped') continue;
      const kind = transceiver.receiver.track.kind;
      const track = this.#localStream.getTracks().find((t) => t.kind === kind);
      if (track) transceiver.sender.replaceTrack(track);
      transceiver.sender.setStreams?.(this.#localStream);
      transceiver.direction = 'sendrecv';
    }
  }

  // During an ICE restart the old pair still works, and one side's first
  // check for the new credentials always reaches the other before the
  // checking side's candidates do (each checks as soon as it has the other's
  // candidates). libwebrtc's agent (Chromium) takes such a check as a
  // peer-reflexive pair, ranks it below the old pair and prunes it for good,
  // and Firefox checks a pair only once: their restart never completed.
  // Firefox's agent takes early checks (and restarts between two Chromium
  // pages settle all the same). So when we run libwebrtc and offer a
  // restart, our candidates wait for the answerer's first one (or its end of
  // candidates): the early checks then land on the answerer. Before, Chromium
  // nominated a pair with Firefox's old candidates instead (Firefox's old
  // agent still answers them), which Firefox's new agent never uses, and
  // the media to Firefox stopped.
  #localCandidate(candidate) {
    if (candidate?.candidate) this.#agentPrunesEarlyChecks ??= LIBWEBRTC_CANDIDATE.test(candidate.candidate);
    if (this.#agentPrunesEarlyChecks && this.#restartPending()) this.#holdingCandidates = true;
    if (this.#holdingCandidates) this.#heldCandidates.push(candidate);
    else this.#send(buildCandidate(candidate, this.remoteId));
  }

  // An offer of ours with new ICE credentials is out.
  #restartPending() {
    const pc = this.#pc;
    return pc.signalingState === 'have-local-offer' && pc.currentLocalDescription !== null &&
      iceUfrag(pc.pendingLocalDescription?.sdp) !== iceUfrag(pc.currentLocalDescription.sdp);
  }

  // Sends the held candidates of the credentials in use; those of an offer
  // that was rolled back (glare) are dropped with their end-of-candidates.
  #releaseCandidates({ rolledBack = false } = {}) {
    this.#holdingCandidates = false;
    const sdp = this.#pc.localDescription?.sdp ?? '';
    let current = !rolledBack;
    for (const candidate of this.#heldCandidates.splice(0)) {
      if (candidate?.usernameFragment) current = sdp.includes(`a=ice-ufrag:${candidate.usernameFragment}\r\n`);
      if (current) this.#send(buildCandidate(candidate, this.remoteId));
    }
  }

  // Answers the remote offer, if one is still waiting: after a queued step
  // only an offer held for its candidates is (handleDescription), unless
  // an offer of ours answered it meanwhile.
  async #answer() {
    if (this.#pc.signalingState !== 'have-remote-offer') return;
    await this.#pc.setLocalDescription();
    this.#send(buildDescription(this.#pc.localDescription, this.remoteId));
    // A restart offer of ours was rolled back: nothing to wait for.
    if (this.#holdingCandidates) this.#releaseCandidates({ rolledBack: true });
  }

  async #offer() {
    try {
      this.#makingOffer = true;
      await this.#pc.setLocalDescription();
      if (this.#agentPrunesEarlyChecks && this.#restartPending()) this.#holdingCandidates = true;
      this.#send(buildDescription(this.#pc.localDescription, this.remoteId));
    } catch (error) {
      console.warn('p2pcall: offer failed', error);
    } finally {
      this.#makingOffer = false;
    }
  }

  #enqueue(step) {
    this.#queue = this.#queue.then(step).catch((error) => console.warn('p2pcall: negotiation', error));
  }

  #connectionStateChanged() {
    const state = this.#pc.connectionState;
    if (state === 'connected') this.#iceRestarts = 0;
    if (state === 'failed') {
      if (this.#iceRestarts < MAX_ICE_RESTARTS) {
        this.#iceRestarts += 1;
        this.restartIce();
      } else {
        this.dispatchEvent(new Event('gave-up'));
      }
    }
    this.dispatchEvent(new CustomEvent('state', { detail: state }));
  }

  #adoptChannel(channel) {
    if (channel.label !== CHAT_LABEL) {
      this.dispatchEvent(new CustomEvent('other-channel', { detail: channel }));
      return;
    }
    this.#channel = channel;
    channel.onopen = () => this.dispatchEvent(new Event('channel-open'));
    channel.onclose = () => this.dispatchEvent(new Event('channel-close'));
    channel.onmessage = ({ data }) => {
      try {
        this.dispatchEvent(new CustomEvent('data', { detail: JSON.parse(data) }));
      } catch {
        // not ours
      }
    };
  }
}

function iceUfrag(sdp) {
  return /^a=ice-ufrag:(\S+)/m.exec(sdp ?? '')?.[1];
}

// @sdp without its candidate lines (they go out trickled instead).
function withoutCandidates(sdp) {
  return sdp.split('\r\n').filter((line) => !/^a=(candidate|end-of-candidates)/.test(line)).join('\r\n');
}
