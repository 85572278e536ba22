// Wires the page together: DOM events -> RoomSession / LocalMedia, and
// CallState -> CallView.
import { CallState } from './call-state.js';
import { CallView } from './view.js';
import { LocalMedia } from './media.js';
import { isValidRoomId, errorInPlainWords, ErrorCode } from './protocol.js';
import { RoomSession } from './room-session.js';
import { SignallingClient, signallingUrl } from './signaling-client.js';
import { clearRecentCalls, loadRecentCalls, RecentCall } from './recent-calls.js';
import { displayName } from './names.js';
import { ScreenWakeLock } from './wake-lock.js';

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

const wakeLock = new ScreenWakeLock();

// Recent calls: written while in a call, shown on the join screen.
const recentCall = new RecentCall();
const RECENT_NOTE_MS = 10000;
let recentTimer = null;
let wasInCall = false;
const recentNames = new Set();   // written once each, not on every change
function showRecentCalls() {
  view.renderRecentCalls(loadRecentCalls(), (room) => {
    $('room-input').value = room;
    join(room, $('name-input').value.trim());
  });
}
state.addEventListener('change', () => {
  if (state.inCall && !wasInCall) {
    recentNames.clear();
    recentCall.begin(state.roomId);
    recentTimer = setInterval(() => recentCall.note([]), RECENT_NOTE_MS);
  } else if (!state.inCall && wasInCall) {
    clearInterval(recentTimer);
    recentCall.end();
    showRecentCalls();
  }
  wasInCall = state.inCall;
  if (state.inCall) {
    const names = [...state.members.values()].filter((m) => m.connection === 'connected').map(displayName)
      .filter((name) => !recentNames.has(name));
    for (const name of names) recentNames.add(name);
    if (names.length) recentCall.note(names);
  }
  wakeLock.want(state.inCall);
  followSpeakerInPictureInPicture();
});
$('clear-recent').addEventListener('click', () => {
  clearRecentCalls();
  showRecentCalls();
});
showRecentCalls();

// Picture-in-picture shows the active speaker (or the first member), and
// follows the speaker while it is open.
function speakerVideo() {
  const speaking = document.querySelector('#tiles .tile.remote.speaking video');
  return speaking ?? document.querySelector('#tiles .tile.remote video') ?? $('local-video');
}
function followSpeakerInPictureInPicture() {
  const current = document.pictureInPictureElement;
  const wanted = speakerVideo();
  if (current && wanted !== current && wanted.readyState >= 1) wanted.requestPictureInPicture().catch(() => {});
}
if (document.pictureInPictureEnabled) {
  $('toggle-pip').hidden = false;
  $('toggle-pip').addEventListener('click', async () => {
    try {
      if (document.pictureInPictureElement) await document.exitPictureInPicture();
      else await speakerVideo().requestPictureInPicture();
    } catch {
      state.update({ error: 'Picture-in-picture could not start: wait for the picture to show, then try again.' });
    }
  });
}

// The page's own files are cached by a service worker so it opens fast and
// can say it is offline; signalling and media never go through it.
if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('sw.js').catch((error) => console.warn('p2pcall: no service worker', error));
}
// navigator.onLine alone misleads (a network without a default route is
// "offline" while the server answers): a HEAD, which the service worker
// leaves alone, asks the server itself.
async function checkOnline() {
  try {
    await fetch('./', { method: 'HEAD', cache: 'no-store' });
    $('offline').hidden = true;
  } catch {
    $('offline').hidden = false;
  }
}
addEventListener('online', checkOnline);
addEventListener('offline', checkOnline);
signalling.addEventListener('status', ({ detail }) => {
  if (detail === 'reconnecting' || detail === 'connected') checkOnline();
});
checkOnline();

// Exposed for the browser tests and for debugging in the console.
window.p2pcall = { state, session, media, screenKeptAwake: () => wakeLock.held };

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
// Phones cannot share their screen from a browser.
$('toggle-screen').hidden = !navigator.mediaDevices?.getDisplayMedia;
$('switch-camera').addEventListener('click', async () => {
  try {
    await media.switchCamera();
    view.setLocalStream(media.stream);
    await fillDeviceLists();
  } catch {
    state.update({ error: 'The other camera could not be started.' });
  }
});
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
// Files: picked or dropped on the chat panel, to everyone or one member.
const fileActions = {
  accept: (id) => session.files.accept(id),
  decline: (id) => session.files.decline(id),
  cancel: (id) => session.files.cancel(id),
  dismiss: (id) => session.files.dismiss(id),
};
function renderTransfers() {
  view.renderTransfers(session.files.list, session.fileRecipients, fileActions);
}
session.files.addEventListener('change', renderTransfers);
state.addEventListener('change', renderTransfers);
function sendFiles(files) {
  const to = $('file-to').value;
  const keys = to ? [to] : session.fileRecipients.map((r) => r.key);
  for (const file of files) {
    const error = session.files.offer(file, keys);
    if (error) state.update({ error });
  }
}
$('file-input').addEventListener('change', (event) => {
  sendFiles([...event.target.files]);
  event.target.value = '';
});
const chatPanel = $('chat-panel');
chatPanel.addEventListener('dragover', (event) => {
  if (!event.dataTransfer.types.includes('Files')) return;
  event.preventDefault();
  chatPanel.classList.add('dropping');
});
chatPanel.addEventListener('dragleave', () => chatPanel.classList.remove('dropping'));
chatPanel.addEventListener('drop', (event) => {
  event.preventDefault();
  chatPanel.classList.remove('dropping');
  sendFiles([...event.dataTransfer.files]);
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
  $('switch-camera').hidden = devices.video.length < 2;
}

addEventListener('pagehide', () => session.leave());

$('name-input').value = params.get('name') ?? '';
const roomFromUrl = params.get('room');
if (roomFromUrl) {
  $('room-input').value = roomFromUrl;
  join(roomFromUrl, $('name-input').value.trim());
}
