// File transfer over WebRTC data channels (being written).
