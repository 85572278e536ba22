// Renders CallState into the page. Reads state, never changes it; the
// controls' clicks go to app.js.
import { formatHealth } from './stats.js';
import { displayName } from './names.js';
import { formatDuration } from './recent-calls.js';
import { formatBytes } from './file-transfer.js';

const QUALITY_TEXT = {
  unknown: 'Connection quality: measuring',
  good: 'Connection quality: good',
  fair: 'Connection quality: fair',
  poor: 'Connection quality: poor',
};
// Tiles are laid out for this width:height; cells may stretch (the video
// is cropped to fill), but the column count keeps them near it.
const TILE_ASPECT = 4 / 3;

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
      joinScreen: $('join-screen'), call: $('call'), tiles: $('tiles'), localTile: $('local-tile'),
      localVideo: $('local-video'), mic: $('toggle-mic'), camera: $('toggle-camera'),
      screen: $('toggle-screen'), roomLabel: $('room-label'), chatLog: $('chat-log'),
    };
    new ResizeObserver(() => this.#layout()).observe(this.#el.tiles);
    // The tiles' height (styles.css) leaves room for the header and any
    // notice above them: measured when one of them changes size or shows.
    const main = root.querySelector('main');
    const above = new ResizeObserver(() => {
      root.documentElement.style.setProperty('--above-main', `${main.offsetTop}px`);
    });
    for (const element of [root.querySelector('header'), $('error'), $('notice'), $('offline')]) above.observe(element);
  }

  render(state) {
    const el = this.#el;
    el.status.textContent = STATUS_TEXT[state.signalling] ?? state.signalling;
    el.status.dataset.state = state.signalling;
    el.error.textContent = state.error;
    el.error.hidden = !state.error;
    el.notice.textContent = state.notice;
    el.notice.hidden = !state.notice;
    el.joinScreen.hidden = state.inCall;
    el.call.hidden = !state.inCall;
    el.roomLabel.textContent = state.inCall ? `Room ${state.roomId}` : '';

    const { local } = state;
    setToggle(el.mic, local.audio, 'Mute microphone', 'Unmute microphone', !local.hasAudio);
    setToggle(el.camera, local.video, 'Turn camera off', 'Turn camera on', !local.hasVideo);
    setToggle(el.screen, !local.screen, 'Share screen', 'Stop sharing', false);
    el.screen.classList.remove('off');
    el.screen.classList.toggle('active', local.screen);
    el.localTile.dataset.audio = local.audio ? 'on' : 'off';
    el.localTile.dataset.video = local.video ? 'on' : 'off';
    el.localTile.dataset.screen = local.screen ? 'on' : 'off';
    el.localTile.querySelector('.marks').textContent = marksText(local);
    el.localTile.classList.toggle('speaking', state.activeSpeaker === 'local');

    this.#renderTiles(state.members, state.activeSpeaker);
    this.#renderChat(state.chat);

  }

  // @calls from loadRecentCalls(); @rejoin(room) runs on a click.
  renderRecentCalls(calls, rejoin) {
    const section = document.getElementById('recent-calls');
    section.hidden = calls.length === 0;
    document.getElementById('recent-list').replaceChildren(...calls.map((call) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'recent-call';
      const room = document.createElement('span');
      room.className = 'recent-room';
      room.textContent = call.room;
      const when = new Date(call.startedAt).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
      const detail = document.createElement('span');
      detail.className = 'recent-detail';
      const who = call.with?.length ? `with ${call.with.join(', ')}` : 'nobody else joined';
      detail.textContent = `${when} · ${formatDuration(call.endedAt - call.startedAt)} · ${who}`;
      button.append(room, detail);
      button.setAttribute('aria-label', `Rejoin ${call.room}: ${detail.textContent}`);
      button.addEventListener('click', () => rejoin(call.room));
      const item = document.createElement('li');
      item.append(button);
      return item;
    }));
  }

  setLocalStream(stream) {
    // A stream without tracks never gets metadata and would hold back the
    // page's load event.
    const wanted = stream.getTracks().length ? stream : null;
    if (this.#el.localVideo.srcObject !== wanted) this.#el.localVideo.srcObject = wanted;
  }

  #renderTiles(members, activeSpeaker) {
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
      tile.dataset.quality = member.quality;
      tile.classList.toggle('speaking', activeSpeaker === member.key);
      tile.querySelector('.tile-name').textContent = displayName(member);
      tile.querySelector('.marks').textContent = marksText(member);
      tile.querySelector('.tile-connection').textContent = member.peerId ? member.connection : `${member.connection}, rejoining`;
      tile.querySelector('.tile-health').textContent = formatHealth(member.health);
      tile.querySelector('.quality summary').setAttribute('aria-label', QUALITY_TEXT[member.quality] ?? QUALITY_TEXT.unknown);
    }
    const count = String(members.size + 1);
    if (this.#el.tiles.dataset.count !== count) {
      this.#el.tiles.dataset.count = count;
      this.#layout();
    }
  }

  // The column count that gives the biggest tiles near TILE_ASPECT in the
  // space #tiles has; the CSS then stretches them to fill it.
  #layout() {
    const tiles = this.#el.tiles;
    const count = Number(tiles.dataset.count);
    const { width, height } = tiles.getBoundingClientRect();
    if (!width || !height) return;
    let best = { columns: 1, size: 0 };
    for (let columns = 1; columns <= count; columns += 1) {
      const rows = Math.ceil(count / columns);
      const size = Math.min(width / columns, (height / rows) * TILE_ASPECT);
      if (size > best.size) best = { columns, size };
    }
    tiles.style.setProperty('--columns', String(best.columns));
    tiles.style.setProperty('--rows', String(Math.ceil(count / best.columns)));
  }

  // @transfers: FileTransfers.list; @recipients: [{ key, name }];
  // @actions: { accept(id), decline(id), cancel(id), dismiss(id) }.
  renderTransfers(transfers, recipients, actions) {
    const list = document.getElementById('transfers');
    const items = new Map([...list.children].map((item) => [item.dataset.id, item]));
    for (const transfer of transfers) {
      let item = items.get(transfer.id);
      items.delete(transfer.id);
      if (!item) {
        item = document.getElementById('transfer-item').content.firstElementChild.cloneNode(true);
        item.dataset.id = transfer.id;
        item.dataset.direction = transfer.direction;
        item.querySelector('.transfer-accept').addEventListener('click', () => actions.accept(transfer.id));
        item.querySelector('.transfer-decline').addEventListener('click', () => actions.decline(transfer.id));
        item.querySelector('.transfer-cancel').addEventListener('click', () => actions.cancel(transfer.id));
        item.querySelector('.transfer-dismiss').addEventListener('click', () => actions.dismiss(transfer.id));
        item.querySelector('.transfer-name').textContent = transfer.name;
        item.querySelector('.transfer-size').textContent = `(${formatBytes(transfer.size)})`;
        list.append(item);
      }
      item.dataset.state = transfer.state;
      item.querySelector('.transfer-peer').textContent = `${transfer.direction === 'out' ? 'To' : 'From'} ${transfer.peerName}`;
      const progress = item.querySelector('progress');
      progress.value = transfer.size ? transfer.bytes / transfer.size : 1;
      progress.hidden = !['sending', 'receiving', 'checking'].includes(transfer.state);
      item.querySelector('.transfer-status').textContent = transferStatus(transfer);
      const save = item.querySelector('.transfer-save');
      save.hidden = !transfer.url;
      if (transfer.url && save.href !== transfer.url) {
        save.href = transfer.url;
        save.download = transfer.name;
        save.textContent = `Save ${transfer.name}`;
      }
    }
    for (const item of items.values()) item.remove();

    // Rebuilt only when the members change: rebuilding closes an open list.
    const select = document.getElementById('file-to');
    const options = JSON.stringify(recipients);
    if (select.dataset.options !== options) {
      select.dataset.options = options;
      const wanted = select.value;
      select.replaceChildren(new Option('Everyone', ''), ...recipients.map(({ key, name }) => new Option(name, key)));
      select.value = recipients.some((r) => r.key === wanted) ? wanted : '';
    }
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

function transferStatus(transfer) {
  const peer = transfer.peerName;
  switch (transfer.state) {
    case 'offered':
      return transfer.direction === 'out' ? `Waiting for ${peer} to accept…` : `${peer} wants to send you this file.`;
    case 'sending':
    case 'receiving': {
      const percent = transfer.size ? Math.floor((100 * transfer.bytes) / transfer.size) : 100;
      const parts = [`${percent}%`, `${formatBytes(transfer.bytes)} of ${formatBytes(transfer.size)}`];
      if (transfer.speed > 0) parts.push(`${formatBytes(transfer.speed)}/s`);
      if (transfer.secondsLeft !== null && transfer.bytes < transfer.size) parts.push(`${formatDuration(transfer.secondsLeft * 1000)} left`);
      if (transfer.bytes >= transfer.size && transfer.direction === 'out') parts.push(`waiting for ${peer} to check it`);
      return parts.join(' · ');
    }
    case 'checking':
      return 'Checking…';
    case 'done':
      return transfer.direction === 'out' ? `${peer} received it (checksum verified).` : 'Received and checked (SHA-256): ready to save.';
    default:
      return transfer.error;
  }
}

function marksText({ audio, video, screen }) {
  return [!audio && 'muted', !video && 'camera off', screen && 'sharing screen'].filter(Boolean).join(' · ');
}

function setToggle(button, on, labelWhenOn, labelWhenOff, disabled) {
  // aria-pressed says the button is "pressed" (the thing is off); the label
  // says what a press does.
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
