// Renders CallState into the page. Reads state, never changes it; the
// controls' clicks go to app.js.
import { formatHealth } from './stats.js';

const STATUS_TEXT = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  connected: 'Connected to the server',
  reconnecting: 'Reconnecting to the server…',
};

export class CallView {
  #el;
  #tiles = new Map();   // member key -> tile element
  #chatCount = 0;

  constructor(root) {
    const $ = (id) => root.getElementById(id);
    this.#el = {
      status: $('signalling-status'), error: $('error'), notice: $('notice'),
      joinForm: $('join-form'), call: $('call'), tiles: $('tiles'), localTile: $('local-tile'),
      localVideo: $('local-video'), mic: $('toggle-mic'), camera: $('toggle-camera'),
      screen: $('toggle-screen'), roomLabel: $('room-label'), chatLog: $('chat-log'),
    };
  }

  render(state) {
    const el = this.#el;
    el.status.textContent = STATUS_TEXT[state.signalling] ?? state.signalling;
    el.status.dataset.state = state.signalling;
    el.error.textContent = state.error;
    el.error.hidden = !state.error;
    el.notice.textContent = state.notice;
    el.notice.hidden = !state.notice;
    el.joinForm.hidden = state.inCall;
    el.call.hidden = !state.inCall;
    el.roomLabel.textContent = state.inCall ? `Room ${state.roomId}` : '';

    const { local } = state;
    setToggle(el.mic, local.audio, 'Mute microphone', 'Unmute microphone', !local.hasAudio);
    setToggle(el.camera, local.video, 'Turn camera off', 'Turn camera on', !local.hasVideo);
    setToggle(el.screen, !local.screen, 'Share screen', 'Stop sharing', false);
    el.screen.classList.remove('off');
    el.screen.classList.toggle('active', local.screen);
    el.screen.textContent = local.screen ? 'Stop share' : 'Share';
    el.localTile.dataset.audio = local.audio ? 'on' : 'off';
    el.localTile.dataset.video = local.video ? 'on' : 'off';
    el.localTile.dataset.screen = local.screen ? 'on' : 'off';
    el.localTile.querySelector('.marks').textContent = marksText(local);

    this.#renderTiles(state.members);
    this.#renderChat(state.chat);
  }

  setLocalStream(stream) {
    // A stream without tracks never gets metadata and would hold back the
    // page's load event.
    const wanted = stream.getTracks().length ? stream : null;
    if (this.#el.localVideo.srcObject !== wanted) this.#el.localVideo.srcObject = wanted;
  }

  #renderTiles(members) {
    for (const [key, tile] of this.#tiles) {
      if (!members.has(key)) {
        tile.remove();
        this.#tiles.delete(key);
      }
    }
    for (const member of members.values()) {
      let tile = this.#tiles.get(member.key);
      if (!tile) {
        tile = makeTile(member.key);
        this.#tiles.set(member.key, tile);
        this.#el.tiles.append(tile);
      }
      const video = tile.querySelector('video');
      if (member.stream && video.srcObject !== member.stream) video.srcObject = member.stream;
      tile.dataset.peerId = member.peerId;
      tile.dataset.audio = member.audio ? 'on' : 'off';
      tile.dataset.video = member.video ? 'on' : 'off';
      tile.dataset.screen = member.screen ? 'on' : 'off';
      tile.dataset.connection = member.connection;
      tile.querySelector('.tile-name').textContent = member.name || 'Guest';
      tile.querySelector('.marks').textContent = marksText(member);
      tile.querySelector('.tile-connection').textContent = member.peerId ? member.connection : `${member.connection}, rejoining`;
      tile.querySelector('.tile-health').textContent = formatHealth(member.health);
    }
    this.#el.tiles.dataset.count = String(members.size + 1);
  }

  #renderChat(chat) {
    for (const entry of chat.slice(this.#chatCount)) {
      const line = document.createElement('li');
      line.className = entry.own ? 'chat-own' : 'chat-remote';
      const who = document.createElement('strong');
      who.textContent = `${entry.from}: `;
      line.append(who, entry.text);
      this.#el.chatLog.append(line);
      line.scrollIntoView({ block: 'nearest' });
    }
    this.#chatCount = chat.length;
  }
}

function marksText({ audio, video, screen }) {
  return [!audio && 'muted', !video && 'camera off', screen && 'sharing screen'].filter(Boolean).join(' · ');
}

function setToggle(button, on, labelWhenOn, labelWhenOff, disabled) {
  button.setAttribute('aria-pressed', on ? 'false' : 'true');
  button.setAttribute('aria-label', on ? labelWhenOn : labelWhenOff);
  button.title = on ? labelWhenOn : labelWhenOff;
  button.classList.toggle('off', !on);
  button.disabled = disabled;
}

function makeTile(key) {
  const template = document.getElementById('remote-tile');
  const tile = template.content.firstElementChild.cloneNode(true);
  tile.dataset.key = key;
  return tile;
}
