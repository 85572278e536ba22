// The DTLS certificate of a process, made before a call needs it.
#pragma once

namespace p2pcall {

// GStreamer's DTLS elements make one certificate per process (an RSA-2048
// key in 1.22) the first time a dtlsdec is created, which is inside the
// first create-offer or create-answer: 100 ms to a second of key generation
// on the critical path of the first call. This starts that generation on a
// thread of its own, once per process; a call that needs the certificate
// earlier waits for the same generation (GStreamer guards it with g_once).
// Elements call it when they go to READY.
void prepare_dtls_certificate ();

// Returns once the generation prepare_dtls_certificate() started is over
// (at once when there is none). Elements call it on their way to NULL, so
// that no process exits with the key half made: OpenSSL's exit handlers
// would free what the generating thread still uses.
void wait_dtls_certificate ();

}  // namespace p2pcall
