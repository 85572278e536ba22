// Distinct names for members who gave none: "Guest" three times tells
// nobody apart. The name comes from the member's clientId (or server id),
// so every page in the room shows the same one for the same member.

const ADJECTIVES = [
  'Amber', 'Blue', 'Coral', 'Dusky', 'Emerald', 'Frosty', 'Golden', 'Hazel',
  'Indigo', 'Jade', 'Lilac', 'Misty', 'Olive', 'Rusty', 'Silver', 'Teal',
];
const ANIMALS = [
  'Otter', 'Fox', 'Heron', 'Lynx', 'Badger', 'Wren', 'Seal', 'Hare',
  'Owl', 'Panda', 'Koala', 'Robin', 'Bison', 'Gecko', 'Moose', 'Finch',
];

// FNV-1a: a stable, well spread number from a string.
function hash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function guestName(id) {
  const h = hash(String(id ?? ''));
  return `${ADJECTIVES[h % ADJECTIVES.length]} ${ANIMALS[(h >>> 8) % ANIMALS.length]}`;
}

// The name a member shows under: its own, or its guest name.
export function displayName(member) {
  return member.name || guestName(member.clientId || member.peerId || member.key);
}
