// The codecs the elements send and receive, in one table: the sink's
// payloaders and encoders, the SDP encoding names the session looks up,
// and the factories both elements check for at NULL→READY.
#pragma once

#include <gst/gst.h>

namespace p2pcall {

struct Codec {
  const char *encoding_name;    // as in SDP rtpmap
  const char *media;            // "audio", "video"
  guint clock_rate;
  const char *encoder;          // p2pcallsink, raw input
  const char *payloader;
  const char *depayloader;      // p2pcallsrc, through decodebin
  const char *decoder;          // nullptr: whichever decodebin finds
};

// VP8, VP9, H264, OPUS.
extern const Codec kCodecs[4];

// The codec named @encoding_name (case-insensitive), or nullptr.
const Codec *find_codec (const char *encoding_name);

}  // namespace p2pcall
