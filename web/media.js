// This tab's camera, microphone and screen. Holds one MediaStream whose
// tracks are what every peer connection sends; 'track' events tell the call
// to swap a track on every connection.

// Events: 'track' (detail: {kind, track}), 'change'.
export class LocalMedia extends EventTarget {
  stream = new MediaStream();
  audioEnabled = true;
  videoEnabled = true;
  sharingScreen = false;
  notice = '';          // why there is no camera or microphone, in plain words
  #camera = null;       // the camera track while the screen is shared

  async start({ audioDeviceId, videoDeviceId } = {}) {
    const audio = audioDeviceId ? { deviceId: { exact: audioDeviceId } } : true;
    const video = videoDeviceId ? { deviceId: { exact: videoDeviceId } } : true;
    // Ask for both, then for one at a time, so a missing device or a refused
    // permission still leaves the other; with neither the person can watch
    // and listen.
    for (const constraints of [{ audio, video }, { audio }, { video }]) {
      try {
        const stream = await navigator.mediaDevices.getUserMedia(constraints);
        for (const track of stream.getTracks()) this.#setTrack(track.kind, track);
        break;
      } catch (error) {
        this.notice = describeMediaError(error);
      }
    }
    const has = (kind) => this.stream.getTracks().some((t) => t.kind === kind);
    if (has('audio') && has('video')) this.notice = '';
    else if (has('audio')) this.notice = 'No camera available: others will hear you but not see you.';
    else if (has('video')) this.notice = 'No microphone available: others will see you but not hear you.';
    else this.notice += ' You can still join to watch and listen.';
    this.#changed();
  }

  has(kind) {
    return this.stream.getTracks().some((t) => t.kind === kind);
  }

  setAudioEnabled(enabled) {
    this.audioEnabled = enabled;
    for (const track of this.stream.getAudioTracks()) track.enabled = enabled;
    this.#changed();
  }

  setVideoEnabled(enabled) {
    this.videoEnabled = enabled;
    for (const track of this.stream.getVideoTracks()) track.enabled = enabled;
    this.#changed();
  }

  async selectDevice(kind, deviceId) {
    const stream = await navigator.mediaDevices.getUserMedia({ [kind]: { deviceId: { exact: deviceId } } });
    const track = stream.getTracks()[0];
    if (kind === 'video' && this.sharingScreen) {
      this.#camera?.stop();
      this.#camera = track;
      return;
    }
    this.#setTrack(kind, track);
    this.#changed();
  }

  // The next camera in the device list: front <-> back on a phone.
  async switchCamera() {
    const { video } = await this.listDevices();
    const track = this.sharingScreen ? this.#camera : this.stream.getVideoTracks()[0];
    const index = video.findIndex((d) => d.deviceId === track?.getSettings().deviceId);
    const next = video[(index + 1) % video.length];
    if (!next || video.length < 2) return;
    try {
      await this.selectDevice('video', next.deviceId);
    } catch (error) {
      // Many phones open one camera at a time: free this one and retry.
      if (error?.name !== 'NotReadableError' || !track) throw error;
      track.stop();
      await this.selectDevice('video', next.deviceId);
    }
  }

  async listDevices() {
    const devices = await navigator.mediaDevices.enumerateDevices();
    return {
      audio: devices.filter((d) => d.kind === 'audioinput'),
      video: devices.filter((d) => d.kind === 'videoinput'),
    };
  }

  async startScreenShare() {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const screen = stream.getVideoTracks()[0];
    this.#camera = this.stream.getVideoTracks()[0] ?? null;
    if (this.#camera) this.stream.removeTrack(this.#camera);
    this.sharingScreen = true;
    screen.addEventListener('ended', () => this.stopScreenShare());
    this.#setTrack('video', screen);
    this.#changed();
  }

  stopScreenShare() {
    if (!this.sharingScreen) return;
    this.sharingScreen = false;
    const screen = this.stream.getVideoTracks()[0];
    const camera = this.#camera;
    this.#camera = null;
    this.#setTrack('video', camera);
    screen?.stop();
    this.#changed();
  }

  stop() {
    this.#camera?.stop();
    for (const track of this.stream.getTracks()) track.stop();
  }

  #setTrack(kind, track) {
    for (const old of this.stream.getTracks().filter((t) => t.kind === kind)) {
      this.stream.removeTrack(old);
      if (old !== this.#camera) old.stop();
    }
    if (track) {
      track.enabled = kind === 'audio' ? this.audioEnabled : this.videoEnabled;
      this.stream.addTrack(track);
    }
    this.dispatchEvent(new CustomEvent('track', { detail: { kind, track } }));
  }

  #changed() {
    this.dispatchEvent(new Event('change'));
  }
}

function describeMediaError(error) {
  switch (error?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Camera and microphone access was refused.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No camera or microphone was found.';
    case 'NotReadableError':
      return 'The camera or microphone is in use by another application.';
    default:
      return 'The camera and microphone could not be started.';
  }
}
