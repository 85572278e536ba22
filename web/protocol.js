// The p2pcall room protocol for the page: message types, error codes and
// builders. Described in protocol/PROTOCOL.md and mirrored from
// protocol/protocol.h (same names); tests/protocol checks that they agree.

export const MessageType = Object.freeze({
  // Client -> server
  JOIN_ROOM: 'join-room',
  LEAVE_ROOM: 'leave-room',
  OFFER: 'offer',
  ANSWER: 'answer',
  ICE_CANDIDATE: 'ice-candidate',
  PEER_STATE: 'peer-state',
  // Server -> client (offer, answer, ice-candidate and peer-state come back relayed)
  JOINED: 'joined',
  USER_JOINED: 'user-joined',
  USER_DISCONNECTED: 'user-disconnected',
  LEFT: 'left',
  ERROR: 'error',
});

export const ErrorCode = Object.freeze({
  BAD_MESSAGE: 'bad-message',
  UNKNOWN_TYPE: 'unknown-type',
  BAD_ROOM: 'bad-room',
  NOT_IN_ROOM: 'not-in-room',
  ALREADY_IN_ROOM: 'already-in-room',
  ROOM_FULL: 'room-full',
  UNKNOWN_PEER: 'unknown-peer',
  UNAUTHORIZED: 'unauthorized',
  RATE_LIMITED: 'rate-limited',
});

export const CloseCode = Object.freeze({ NORMAL: 1000, GOING_AWAY: 1001, TOO_BIG: 1009 });

// Member of a peer-state "state" object: a random id a client keeps across
// reconnections, so that peers can tell a rejoining member from a new one.
export const STATE_CLIENT_ID = 'clientId';
// Set by members that send nothing (GStreamer receivers; never by the page,
// which always offers to send): two of them make no connection.
export const STATE_RECEIVE_ONLY = 'receiveOnly';

export const MAX_ROOM_ID_LENGTH = 64;
export const MAX_NAME_LENGTH = 64;

const ROOM_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

export function isValidRoomId(roomId) {
  return ROOM_ID_PATTERN.test(roomId);
}

// Perfect negotiation roles: the id that sorts first in byte order is polite.
// Ids are ASCII, so JavaScript's code-unit order is byte order.
export function isPolite(ownId, remoteId) {
  return ownId < remoteId;
}

export function buildJoin(roomId, name, token) {
  const msg = { type: MessageType.JOIN_ROOM, roomId };
  if (name) msg.name = name.slice(0, MAX_NAME_LENGTH);
  if (token) msg.token = token;
  return msg;
}

export function buildLeave() {
  return { type: MessageType.LEAVE_ROOM };
}

// @description: an RTCSessionDescription (offer or answer).
export function buildDescription(description, to) {
  const kind = description.type === 'offer' ? MessageType.OFFER : MessageType.ANSWER;
  return { type: kind, [kind]: { type: description.type, sdp: description.sdp }, to };
}

// @candidate: an RTCIceCandidate, or null for end of candidates.
export function buildCandidate(candidate, to) {
  return { type: MessageType.ICE_CANDIDATE, candidate: candidate ? candidate.toJSON() : null, to };
}

export function buildPeerState({ audio, video, screen, name, clientId }) {
  return {
    type: MessageType.PEER_STATE,
    state: { audio, video, screen, name, [STATE_CLIENT_ID]: clientId },
  };
}

// Errors after which trying the same join again cannot help.
export const JOIN_REFUSALS = Object.freeze(new Set([
  ErrorCode.BAD_ROOM, ErrorCode.ROOM_FULL, ErrorCode.UNAUTHORIZED, ErrorCode.ALREADY_IN_ROOM,
]));

const PLAIN_WORDS = {
  [ErrorCode.BAD_MESSAGE]: 'The server did not understand a message from this page.',
  [ErrorCode.UNKNOWN_TYPE]: 'The server did not understand a message from this page.',
  [ErrorCode.BAD_ROOM]: 'That room name cannot be used. Use 1 to 64 letters, digits, dots, dashes or underscores.',
  [ErrorCode.NOT_IN_ROOM]: 'You are not in a room any more. Join again.',
  [ErrorCode.ALREADY_IN_ROOM]: 'You are already in a room. Leave it first.',
  [ErrorCode.ROOM_FULL]: 'This room is full. Try again later or pick another room.',
  [ErrorCode.UNKNOWN_PEER]: 'A participant has already left.',
  [ErrorCode.UNAUTHORIZED]: 'You are not allowed into this room: the invite link is missing its access token, or it has expired.',
  [ErrorCode.RATE_LIMITED]: 'Too many messages in a short time; some were dropped.',
};

export function errorInPlainWords(code, message) {
  return PLAIN_WORDS[code] ?? (message || `The server refused a request (${code}).`);
}
