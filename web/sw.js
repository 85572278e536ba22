// The page's service worker: keeps the page's own files so it opens fast
// and, offline, still opens and says so (app.js shows the notice). Only
// GETs of the files below are answered from the cache; signalling (/ws),
// media (never HTTP) and anything else go to the network untouched.
const CACHE = 'p2pcall-page-v1';
const PAGE_FILES = [
  './', 'index.html', 'styles.css', 'app.js', 'call-state.js', 'view.js', 'media.js', 'names.js',
  'peer-connection.js', 'protocol.js', 'recent-calls.js', 'room-session.js', 'signaling-client.js',
  'stats.js', 'file-transfer.js', 'sha256.js', 'wake-lock.js', 'favicon.svg', 'app.webmanifest', 'icons/icon.svg',
  'icons/icon-192.png', 'icons/icon-512.png',
];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(PAGE_FILES)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
    .then(() => self.clients.claim()));
});

const scope = new URL(self.registration.scope);
const cached = new Set(PAGE_FILES.map((file) => new URL(file, scope).pathname));

// Network first, so a new version shows at once; the cache when offline.
// The query (?room=, ?token=) does not pick another file.
self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== scope.origin || !cached.has(url.pathname)) return;
  event.respondWith(fetch(event.request).then((response) => {
    if (response.ok) {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(url.pathname, copy));
    }
    return response;
  }).catch(async () => (await caches.match(url.pathname, { ignoreSearch: true }))
    ?? (await caches.match(new URL('./', scope).pathname))
    ?? new Response('p2pcall is offline and this file was never cached.', { status: 503 })));
});
