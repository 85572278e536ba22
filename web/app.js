// Wires the page together: DOM events -> RoomSession / LocalMedia, and
// CallState -> CallView.
import { CallState } from './call-state.js';
import { CallView } from './view.js';
import { LocalMedia } from './media.js';
import { isValidRoomId, errorInPlainWords, ErrorCode } from './protocol.js';
import { RoomSession } from './room-session.js';
import { SignallingClient, signallingUrl } from './signaling-client.js';

const $ = (id) => document.getElementById(id);

const state = new CallState();
const view = new CallView(document);
const media = new LocalMedia();
const signalling = new SignallingClient(signallingUrl(location));
const params = new URLSearchParams(location.search);
// ?relay=1: media only through the server's TURN relay, so other members
// never learn this browser's IP addresses (a privacy option).
const iceTransportPolicy = params.get('relay') === '1' ? 'relay' : 'all';
const session = new RoomSession({ signalling, media, state, iceTransportPolicy });
const token = params.get('token') ?? '';

state.addEventListener('change', () => view.render(state));
view.render(state);

// Exposed for the browser tests and for debugging in the console.
window.p2pcall = { state, session, media };

let mediaStarted = null;
function startMedia() {
  mediaStarted ??= media.start().then(() => {
    view.setLocalStream(media.stream);
    return fillDeviceLists();
  });
  return mediaStarted;
}

async function join(roomId, name) {
  if (!isValidRoomId(roomId)) {
    state.update({ error: errorInPlainWords(ErrorCode.BAD_ROOM) });
    return;
  }
  $('join-button').disabled = true;
  await startMedia();
  $('join-button').disabled = false;
  const url = new URL(location.href);
  url.searchParams.set('room', roomId);
  history.replaceState(null, '', url);
  session.join(roomId, name, token);
}

$('join-form').addEventListener('submit', (event) => {
  event.preventDefault();
  join($('room-input').value.trim(), $('name-input').value.trim());
});

$('toggle-mic').addEventListener('click', () => media.setAudioEnabled(!media.audioEnabled));
$('toggle-camera').addEventListener('click', () => media.setVideoEnabled(!media.videoEnabled));
$('toggle-screen').addEventListener('click', async () => {
  try {
    if (media.sharingScreen) media.stopScreenShare();
    else await media.startScreenShare();
  } catch (error) {
    if (error?.name !== 'NotAllowedError') state.update({ error: 'Screen sharing could not start.' });
  }
});
$('leave').addEventListener('click', () => {
  session.leave();
  const url = new URL(location.href);
  url.searchParams.delete('room');
  history.replaceState(null, '', url);
});
$('copy-link').addEventListener('click', async () => {
  const link = new URL(location.pathname, location.origin);
  link.searchParams.set('room', state.roomId);
  if (token) link.searchParams.set('token', token);
  $('invite-link').value = link.href;
  try {
    await navigator.clipboard.writeText(link.href);
    $('copy-result').textContent = 'Invite link copied.';
  } catch {
    $('invite-link').select();
    $('copy-result').textContent = 'Copy the selected link.';
  }
});
$('chat-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const text = $('chat-input').value.trim();
  if (!text) return;
  session.sendChat(text);
  $('chat-input').value = '';
});
for (const kind of ['audio', 'video']) {
  $(`${kind}-device`).addEventListener('change', async (event) => {
    try {
      await media.selectDevice(kind, event.target.value);
      view.setLocalStream(media.stream);
    } catch {
      state.update({ error: `That ${kind === 'audio' ? 'microphone' : 'camera'} could not be started.` });
    }
  });
}

async function fillDeviceLists() {
  const devices = await media.listDevices();
  for (const kind of ['audio', 'video']) {
    const select = $(`${kind}-device`);
    const current = media.stream.getTracks().find((t) => t.kind === kind)?.getSettings().deviceId;
    select.replaceChildren(...devices[kind].map((device, i) => {
      const option = new Option(device.label || `${kind === 'audio' ? 'Microphone' : 'Camera'} ${i + 1}`, device.deviceId);
      option.selected = device.deviceId === current;
      return option;
    }));
    select.disabled = devices[kind].length < 2;
  }
}

addEventListener('pagehide', () => session.leave());

$('name-input').value = params.get('name') ?? '';
const roomFromUrl = params.get('room');
if (roomFromUrl) {
  $('room-input').value = roomFromUrl;
  join(roomFromUrl, $('name-input').value.trim());
}
