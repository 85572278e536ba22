// What the session changes in, and reads from, session descriptions, as
// pure functions on GstSDPMessage (no webrtcbin, no session state), so that
// each rule is tested on SDP text captured from real Chromium, Firefox and
// webrtcbin sessions (tests/gst/test-sdp-fixups.cpp, tests/gst/sdp/). Each
// rule's comment says which peer needs it and why.
#pragma once

#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>

#include <string>
#include <vector>

namespace p2pcall {

// Whether @media has attribute @key (with or without a value).
bool sdp_media_has_attribute (const GstSDPMedia * media, const char *key);

// Fills in the ICE credentials and a=setup that Firefox leaves out of the
// m-lines it rejects (port 0), from the first m-line that has them.
void complete_rejected_mlines (GstSDPMessage * sdp);

// a=setup of @media as a role, NONE when absent or unknown.
GstWebRTCDTLSSetup dtls_setup_of (const GstSDPMedia * media);

// Our DTLS role (ACTIVE: client, PASSIVE: server) for m-line @index as the
// negotiation of @local with @remote settled it, or NONE.
GstWebRTCDTLSSetup settled_dtls_role (const GstSDPMessage * local,
    const GstSDPMessage * remote, guint index);

// Sets @answer's a=setup lines to the roles the last completed negotiation
// (@current_local, @current_remote) settled; nothing without one.
void keep_dtls_role (GstSDPMessage * answer,
    const GstSDPMessage * current_local, const GstSDPMessage * current_remote);

// Rejects in @answer the m-lines @offer rejects (port 0, not bundle-only),
// with a=rtcp-mux, and takes them out of the answer's bundle group.
void reject_what_the_offer_rejected (GstSDPMessage * answer,
    const GstSDPMessage * offer);

// Turns @answer's recvonly m-lines inactive and sendrecv ones sendonly.
void refuse_receiving (GstSDPMessage * answer);

// The encoding names of @media's rtpmap lines, comma-separated, without
// retransmission and error correction formats.
std::string codec_names (const GstSDPMedia * media);

// An m-line of ours that the peer's answer rejected.
struct RefusedMedia {
  guint index;
  std::string media;            // "audio", "video"
  std::string codecs;           // what we offered there (codec_names)
};

// The m-lines of @offer (ours) that @answer rejects, leaving out those we
// rejected ourselves.
std::vector<RefusedMedia> refused_media (const GstSDPMessage * offer,
    const GstSDPMessage * answer);

// @sdp's @nth m-line of @media ("audio", "video"), or nullptr.
const GstSDPMedia *nth_media (const GstSDPMessage * sdp, const char *media,
    guint nth);

// The payload type @media's rtpmap gives @encoding_name (case-insensitive,
// "VP8", "opus"), or -1.
int payload_type_of (const GstSDPMedia * media, const char *encoding_name);

// Whether @media takes media from its peer: neither sendonly nor inactive.
// (Port 0 is fine: bundled m-lines after the first are bundle-only.)
bool media_receives (const GstSDPMedia * media);

}  // namespace p2pcall
