/* The inspector's pages and what they load stay on the phone (Workbox, served from this site).
   A page is taken from the network when there is one and kept; without a network the kept copy
   is shown, so an inspection started on site can be worked through offline. Results and photos
   are not sent through here: field.js keeps them in IndexedDB until they are filed. */
importScripts('/vendor/workbox-sw.js');
workbox.setConfig({modulePathPrefix: '/vendor/', debug: false});

const ASSETS = 'field-assets-v1';
const PAGES = 'field-pages-v1';
const PRECACHE = ['/assets/app.css', '/assets/field.js', '/vendor/dexie.min.js'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(ASSETS).then((cache) => cache.addAll(PRECACHE)));
  self.skipWaiting();
});
workbox.core.clientsClaim();

workbox.routing.registerRoute(
  ({request, url}) => request.mode === 'navigate' && url.pathname.startsWith('/field'),
  new workbox.strategies.NetworkFirst({cacheName: PAGES, networkTimeoutSeconds: 5}));
workbox.routing.registerRoute(
  ({url}) => url.pathname.startsWith('/assets/') || url.pathname.startsWith('/vendor/'),
  new workbox.strategies.StaleWhileRevalidate({cacheName: ASSETS}));
