#include "codecs.h"

namespace p2pcall {

const Codec kCodecs[4] = {
  {"VP8", "video", 90000, "vp8enc", "rtpvp8pay", "rtpvp8depay", "vp8dec"},
  {"VP9", "video", 90000, "vp9enc", "rtpvp9pay", "rtpvp9depay", "vp9dec"},
  {"H264", "video", 90000, "x264enc", "rtph264pay", "rtph264depay", nullptr},
  {"OPUS", "audio", 48000, "opusenc", "rtpopuspay", "rtpopusdepay",
    "opusdec"},
};

const Codec *
find_codec (const char *encoding_name)
{
  for (const Codec &c : kCodecs)
    if (g_ascii_strcasecmp (c.encoding_name, encoding_name) == 0)
      return &c;
  return nullptr;
}

}  // namespace p2pcall
