/**
 * SECTION:element-p2pcallsink
 * @title: p2pcallsink
 * @see_also: p2pcallsrc, webrtcbin
 *
 * Joins a p2pcall room and sends its inputs to every other member, as a
 * browser on the call page does: one webrtcbin per remote member, with the
 * room's signalling spoken to p2pcall-server over a WebSocket.
 *
 * Raw video and audio are encoded once (VP8 by default, see
 * #GstP2pcallSink:video-codec, and Opus) and the encoded stream is fanned out
 * to every peer, so a new viewer costs no encoder. Already encoded VP8, VP9,
 * H.264 and Opus are sent as they are. Key frames are produced when a
 * receiver asks for one (PLI/FIR) and when a peer connects.
 *
 * The member already in the room offers to a newcomer; a p2pcallsink that
 * joins after others answers their offers with the payload types they chose.
 *
 * With a p2pcallsrc of the same #GstP2pcallSink:server, #GstP2pcallSink:room
 * and #GstP2pcallSink:peer-name in the same process (in this pipeline or
 * another), the two are one member of the room: one signalling connection
 * and one peer connection per remote member, carrying both directions.
 *
 * Bus element messages (all with string fields peer-id, client-id and label,
 * the peer's id when its connection was made):
 * - `p2pcall-joined`: room-id, peer-id (ours), client-id (ours), rejoin
 *   (boolean): the room was joined, or rejoined after the server connection
 *   came back.
 * - `p2pcall-peer-joined`, `p2pcall-peer-left`: a peer connection was made or
 *   removed.
 * - `p2pcall-peer-connection-state`: also state, the nick of the
 *   #GstWebRTCPeerConnectionState.
 * - `p2pcall-signalling-lost`: server; the server connection dropped and
 *   reconnection with backoff is under way. Media keeps flowing.
 * - `p2pcall-peer-bitrate` (congestion-control=adaptive, every second per
 *   peer): estimate and bitrate-sent (bit/s), layer, width, height,
 *   fraction-lost, round-trip-time, transport-cc.
 *
 * With #GstP2pcallSink:congestion-control=adaptive, raw video
 * is encoded into a ladder of at most #GstP2pcallSink:ladder-size layers,
 * and each peer is sent the layer its own link carries (see
 * gst/encoding_ladder.h and gst/congestion_control.h); with none, once for
 * everyone at #GstP2pcallSink:video-bitrate.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! p2pcallsink room=myroom
 * ]| sends a test picture to everyone in room myroom of the server at
 * ws://127.0.0.1:8080/ws.
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! p2pcallsink name=s room=myroom \
 *     server=wss://call.example.com/ws autoaudiosrc ! s.
 * ]| sends a camera and a microphone.
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! p2pcallsink room=myroom peer-name=alice \
 *     p2pcallsrc room=myroom peer-name=alice ! videoconvert ! autovideosink
 * ]| is a two-way call: alice sends her camera and sees everyone else.
 */
#include "gstp2pcallsink.h"

#include "call_member.h"
#include "codecs.h"
#include "connection_settings.h"
#include "dtls_certificate.h"
#include "encoding_ladder.h"
#include "room_session.h"
#include "sdp_fixups.h"
#include "transport_cc.h"

#include <gst/rtp/rtp.h>
#include <gst/video/video.h>
#include <gst/webrtc/webrtc.h>

#include <algorithm>
#include <atomic>
#include <mutex>

GST_DEBUG_CATEGORY_STATIC (gst_p2pcall_sink_debug);
#define GST_CAT_DEFAULT gst_p2pcall_sink_debug

using namespace p2pcall;

namespace {

enum VideoCodec { VIDEO_CODEC_VP8, VIDEO_CODEC_VP9, VIDEO_CODEC_H264 };
enum CongestionControl { CONGESTION_CONTROL_NONE,
  CONGESTION_CONTROL_ADAPTIVE };

enum {
  PROP_VIDEO_BITRATE = N_CONNECTION_PROPERTIES,
  PROP_VIDEO_CODEC,
  PROP_CONGESTION_CONTROL,
  PROP_MIN_BITRATE,
  PROP_MAX_BITRATE,
  PROP_START_BITRATE,
  PROP_LADDER_SIZE,
};

// none for now: with adaptive the default, tests that check a gst-launch
// member's picture size in a page or a p2pcallsrc on a loaded machine
// (gst-browser-shared, gst-shared-glare...) flaked, their loopback viewers
// moved down the ladder by the loss a starved receiver shows (see
// docs/adaptive.md, "Adaptive by default").
constexpr CongestionControl kDefaultCongestionControl =
    CONGESTION_CONTROL_NONE;
constexpr guint kDefaultMinBitrate = 100;       // kbit/s
constexpr guint kDefaultMaxBitrate = 1500;
constexpr guint kDefaultStartBitrate = 800;
constexpr int kDefaultLadderSize = 3;

constexpr guint kDefaultVideoBitrate = 1500;    // kbit/s
constexpr VideoCodec kDefaultVideoCodec = VIDEO_CODEC_VP8;
// Frames between forced key frames when nobody asks for one.
constexpr int kKeyframeInterval = 60;

// The RTP caps offered for @codec on payload type @pt: what webrtcbin puts
// in the SDP, with the feedback browsers expect.
GstCaps *
rtp_caps (const Codec &codec, int pt)
{
  GstCaps *caps = gst_caps_new_simple ("application/x-rtp",
      "media", G_TYPE_STRING, codec.media,
      "encoding-name", G_TYPE_STRING, codec.encoding_name,
      "clock-rate", G_TYPE_INT, (int) codec.clock_rate,
      "payload", G_TYPE_INT, pt, nullptr);
  GstStructure *s = gst_caps_get_structure (caps, 0);
  if (g_str_equal (codec.media, "video"))
    gst_structure_set (s, "rtcp-fb-nack-pli", G_TYPE_BOOLEAN, TRUE,
        "rtcp-fb-ccm-fir", G_TYPE_BOOLEAN, TRUE,
        "rtcp-fb-nack", G_TYPE_BOOLEAN, TRUE, nullptr);
  else
    gst_structure_set (s, "encoding-params", G_TYPE_STRING, "2", nullptr);
  if (g_str_equal (codec.encoding_name, "H264"))
    gst_structure_set (s, "packetization-mode", G_TYPE_STRING, "1",
        "profile-level-id", G_TYPE_STRING, "42e01f",
        "level-asymmetry-allowed", G_TYPE_STRING, "1", nullptr);
  return caps;
}

constexpr int kNotReceived = -1;        // no m-line, or it takes nothing
constexpr int kCodecNotOffered = -2;    // it takes media, not this codec

// The payload type an offer gives @codec in its @nth m-line of @media,
// kNotReceived when that m-line is missing or takes no media from us,
// kCodecNotOffered when it lacks the codec.
int
offered_payload_type (const GstSDPMessage *offer, const char *media,
    guint nth, const Codec &codec)
{
  const GstSDPMedia *m = nth_media (offer, media, nth);
  if (!m || !media_receives (m))
    return kNotReceived;
  int pt = payload_type_of (m, codec.encoding_name);
  return pt >= 0 ? pt : kCodecNotOffered;
}

struct ObjectUnref {
  void operator() (gpointer obj) const { gst_object_unref (obj); }
};

// One input of the sink: converted, encoded once, then split by a tee.
struct SendStream {
  std::string pad_name;
  std::string media;            // "video" or "audio"
  GstElement *entry = nullptr;  // capsfilter the ghost pad targets, reffed
  GstElement *tee = nullptr;    // reffed
  const Codec *codec = nullptr; // set when the input's caps arrive
  guint index = 0;              // among the sink's inputs, for payload types
  bool eos = false;
  // congestion-control=adaptive, raw video: the tee carries raw video and
  // the ladder's layers encode it.
  std::shared_ptr<EncodingLadder> ladder;
};

// Holds a peer's branch of a stream until the negotiation says the peer
// takes it (see open_gates_when_sending).
struct SendGate {
  GstPad *pad = nullptr;        // reffed
  std::atomic<gulong> block {0};
  ~SendGate () { gst_clear_object (&pad); }
};

// What one peer gets: per stream after its tee, a queue and a payloader,
// and the proxysink / proxysrc pair into the webrtcbin's pipeline.
struct SinkPeerMedia : PeerMedia {
  struct Branch {
    GstElement *tee;
    GstPad *tee_pad;
    GstElement *queue;
    GstElement *payloader;
    GstElement *proxysink;
    GstElement *proxysrc;       // in the member's pipeline
    GstWebRTCRTPTransceiver *transceiver;     // reffed, may be null
    SendGate *gate;             // while the transceiver is
    // From a ladder instead of a tee: the funnel its layers feed.
    std::shared_ptr<EncodingLadder> ladder;
    GstElement *funnel;
  };
  std::vector<Branch> branches;
  GstElement *webrtcbin = nullptr;      // not reffed: the ladders' key
};

}  // namespace

struct GstP2pcallSinkPrivate {
  // settings_lock guards config, video_bitrate and video_codec. Never held
  // while posting, emitting or calling into children.
  std::mutex settings_lock;
  SessionConfig config;
  guint video_bitrate = kDefaultVideoBitrate;
  VideoCodec video_codec = kDefaultVideoCodec;
  CongestionControl congestion_control = kDefaultCongestionControl;
  AdaptiveSettings adaptive;

  // streams_lock guards streams: pads are requested by the application, caps
  // arrive on streaming threads, peers are attached on the session thread.
  std::mutex streams_lock;
  std::vector<SendStream> streams;
  guint next_video_pad = 0;
  guint next_audio_pad = 0;

  std::unique_ptr<AdaptiveController> controller;  // uses streams' ladders
  std::unique_ptr<MemberSlot> slot;
};

struct _GstP2pcallSink {
  GstBin parent;
  GstP2pcallSinkPrivate *priv;
};

class SinkHost final : public MemberPart {
public:
  explicit SinkHost (GstP2pcallSink *self) : self_ (self) {}

  bool sends_audio () const override { return has_media ("audio"); }
  bool sends_video () const override { return has_media ("video"); }

  bool media_ready () const override
  {
    std::lock_guard<std::mutex> lock (self_->priv->streams_lock);
    for (const SendStream &s : self_->priv->streams)
      if (!s.codec)
        return false;
    return true;
  }

  std::unique_ptr<PeerMedia> attach_media (GstElement *webrtcbin,
      CallMember &member, const std::string &label,
      const GstSDPMessage *offer, const MediaPlan &plan) override;
  void connect_ladder (const std::shared_ptr<EncodingLadder> &ladder,
      GstElement *webrtcbin, GstElement *queue, SinkPeerMedia::Branch &branch);
  void detach_media (GstElement *webrtcbin, CallMember &member,
      PeerMedia *media) override;
  void peer_connected (PeerMedia *media) override;
  void unlink_media (PeerMedia *media) override;

private:
  bool has_media (const char *media) const
  {
    std::lock_guard<std::mutex> lock (self_->priv->streams_lock);
    for (const SendStream &s : self_->priv->streams)
      if (s.media == media)
        return true;
    return false;
  }

  GstP2pcallSink *self_;
};

#define gst_p2pcall_sink_parent_class parent_class
G_DEFINE_TYPE (GstP2pcallSink, gst_p2pcall_sink, GST_TYPE_BIN);

static GstStaticPadTemplate video_template = GST_STATIC_PAD_TEMPLATE ("video_%u",
    GST_PAD_SINK, GST_PAD_REQUEST,
    GST_STATIC_CAPS ("video/x-raw; video/x-vp8; video/x-vp9; "
        "video/x-h264, stream-format=(string) { avc, byte-stream }, "
        "alignment=(string) au"));

static GstStaticPadTemplate audio_template = GST_STATIC_PAD_TEMPLATE ("audio_%u",
    GST_PAD_SINK, GST_PAD_REQUEST,
    GST_STATIC_CAPS ("audio/x-raw; audio/x-opus"));

GType
gst_p2pcall_video_codec_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {VIDEO_CODEC_VP8, "VP8 (vp8enc)", "vp8"},
    {VIDEO_CODEC_VP9, "VP9 (vp9enc)", "vp9"},
    {VIDEO_CODEC_H264, "H.264 (x264enc, constrained baseline)", "h264"},
    {0, nullptr, nullptr},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type,
        g_enum_register_static ("GstP2pcallVideoCodec", values));
  return type;
}

GType
gst_p2pcall_congestion_control_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {CONGESTION_CONTROL_NONE, "One encoding at video-bitrate for every peer",
        "none"},
    {CONGESTION_CONTROL_ADAPTIVE, "Per-peer estimate over an encoding ladder",
        "adaptive"},
    {0, nullptr, nullptr},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type,
        g_enum_register_static ("GstP2pcallCongestionControl", values));
  return type;
}
#define GST_TYPE_P2PCALL_CONGESTION_CONTROL \
    (gst_p2pcall_congestion_control_get_type ())

static GstElement *
make (const char *factory)
{
  return gst_element_factory_make (factory, nullptr);
}

// H.264 as rtph264pay takes it, with parameter sets before every key frame
// for receivers that join late.
static std::vector<GstElement *>
make_h264_parser ()
{
  GstElement *parse = make ("h264parse");
  g_object_set (parse, "config-interval", -1, nullptr);
  GstElement *filter = make ("capsfilter");
  g_autoptr (GstCaps) caps = gst_caps_from_string ("video/x-h264, "
      "stream-format=(string) byte-stream, alignment=(string) au");
  g_object_set (filter, "caps", caps, nullptr);
  return {parse, filter};
}

// The encoder chain for raw video in the configured codec, low-latency.
static std::vector<GstElement *>
make_video_encoder (VideoCodec codec, guint bitrate_kbps, const Codec **out)
{
  // 4:2:0 8-bit: what browsers decode (VP9 profile 0, H.264 baseline).
  GstElement *format = make ("capsfilter");
  g_autoptr (GstCaps) i420 = gst_caps_from_string ("video/x-raw, "
      "format=(string) I420");
  g_object_set (format, "caps", i420, nullptr);
  std::vector<GstElement *> chain = {make ("videoconvert"), format,
    make ("queue")};
  GstElement *enc;
  switch (codec) {
    case VIDEO_CODEC_H264:
      *out = find_codec ("H264");
      enc = make ((*out)->encoder);
      gst_util_set_object_arg (G_OBJECT (enc), "tune", "zerolatency");
      gst_util_set_object_arg (G_OBJECT (enc), "speed-preset", "ultrafast");
      g_object_set (enc, "bitrate", bitrate_kbps, "key-int-max",
          kKeyframeInterval, nullptr);
      chain.push_back (enc);
      {
        GstElement *filter = make ("capsfilter");
        g_autoptr (GstCaps) caps = gst_caps_from_string ("video/x-h264, "
            "profile=(string) constrained-baseline");
        g_object_set (filter, "caps", caps, nullptr);
        chain.push_back (filter);
      }
      for (GstElement *e : make_h264_parser ())
        chain.push_back (e);
      return chain;
    case VIDEO_CODEC_VP9:
    case VIDEO_CODEC_VP8:
    default:
      *out = find_codec (codec == VIDEO_CODEC_VP9 ? "VP9" : "VP8");
      enc = make ((*out)->encoder);
      // Real time, no frame lag, resilient to loss, rate-controlled.
      g_object_set (enc, "deadline", (gint64) 1, "lag-in-frames", 0,
          "keyframe-max-dist", kKeyframeInterval, "cpu-used", 8,
          "target-bitrate", (int) (bitrate_kbps * 1000), nullptr);
      gst_util_set_object_arg (G_OBJECT (enc), "end-usage", "cbr");
      gst_util_set_object_arg (G_OBJECT (enc), "error-resilient", "default");
      break;
  }
  chain.push_back (enc);
  return chain;
}

// congestion-control=adaptive: the input's tee carries raw I420 video to an
// EncodingLadder whose layers (encoders made as make_video_encoder() makes
// them) peers are switched between. Returns the conversion before the tee.
static std::vector<GstElement *>
make_ladder_input (GstP2pcallSink *self, GstPad *entry_src, GstCaps *caps,
    VideoCodec video_codec, const Codec **codec)
{
  GstP2pcallSinkPrivate *priv = self->priv;
  GstVideoInfo info;
  if (!gst_video_info_from_caps (&info, caps))
    gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, 640, 480);
  AdaptiveSettings settings;
  {
    std::lock_guard<std::mutex> lock (priv->settings_lock);
    settings = priv->adaptive;
  }
  *codec = find_codec (video_codec == VIDEO_CODEC_H264 ? "H264" :
      video_codec == VIDEO_CODEC_VP9 ? "VP9" : "VP8");

  g_autoptr (GstElement) entry = GST_ELEMENT (gst_pad_get_parent (entry_src));
  std::lock_guard<std::mutex> lock (priv->streams_lock);
  for (SendStream &s : priv->streams) {
    if (s.entry != entry || s.ladder)
      continue;
    s.ladder = std::make_shared<EncodingLadder> (GST_BIN (self), s.tee,
        GST_VIDEO_INFO_WIDTH (&info), GST_VIDEO_INFO_HEIGHT (&info), settings,
        [video_codec] (guint kbps) {
          const Codec *unused;
          return make_video_encoder (video_codec, kbps, &unused);
        });
    priv->controller->set_settings (settings);
    priv->controller->add_ladder (s.ladder);
  }
  GstElement *format = make ("capsfilter");
  g_autoptr (GstCaps) i420 = gst_caps_from_string ("video/x-raw, "
      "format=(string) I420");
  g_object_set (format, "caps", i420, nullptr);
  return {make ("videoconvert"), format};
}

// Builds what goes between the entry capsfilter and the tee once the input's
// caps are known, on the streaming thread, before the caps go further.
static GstPadProbeReturn
on_input_caps (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  if (GST_EVENT_TYPE (event) != GST_EVENT_CAPS)
    return GST_PAD_PROBE_OK;
  auto self = GST_P2PCALL_SINK (data);
  GstP2pcallSinkPrivate *priv = self->priv;
  GstCaps *caps;
  gst_event_parse_caps (event, &caps);
  const char *name = gst_structure_get_name (gst_caps_get_structure (caps, 0));

  guint bitrate;
  VideoCodec video_codec;
  bool adaptive;
  {
    std::lock_guard<std::mutex> lock (priv->settings_lock);
    bitrate = priv->video_bitrate;
    video_codec = priv->video_codec;
    adaptive = priv->congestion_control == CONGESTION_CONTROL_ADAPTIVE;
  }

  const Codec *codec = nullptr;
  std::vector<GstElement *> chain;
  if (g_str_equal (name, "video/x-raw") && adaptive) {
    chain = make_ladder_input (self, pad, caps, video_codec, &codec);
  } else if (g_str_equal (name, "video/x-raw")) {
    chain = make_video_encoder (video_codec, bitrate, &codec);
  } else if (g_str_equal (name, "audio/x-raw")) {
    codec = find_codec ("OPUS");
    chain = {make ("audioconvert"), make ("audioresample"), make ("queue"),
      make (codec->encoder)};
  } else if (g_str_equal (name, "video/x-h264")) {
    chain = make_h264_parser ();
    codec = find_codec ("H264");
  } else if (g_str_equal (name, "video/x-vp8")) {
    codec = find_codec ("VP8");
  } else if (g_str_equal (name, "video/x-vp9")) {
    codec = find_codec ("VP9");
  } else if (g_str_equal (name, "audio/x-opus")) {
    codec = find_codec ("OPUS");
  }
  for (GstElement *e : chain)
    if (!e) {
      GST_ELEMENT_ERROR (self, CORE, MISSING_PLUGIN,
          ("An element needed to encode %s is missing.", name), (nullptr));
      return GST_PAD_PROBE_REMOVE;
    }

  GstElement *entry = GST_ELEMENT (gst_pad_get_parent (pad));
  GstElement *tee = nullptr;
  SendStream *stream = nullptr;
  {
    std::lock_guard<std::mutex> lock (priv->streams_lock);
    for (SendStream &s : priv->streams)
      if (s.entry == entry)
        stream = &s;
    if (stream)
      tee = GST_ELEMENT (gst_object_ref (stream->tee));
  }
  if (!tee) {
    gst_object_unref (entry);
    return GST_PAD_PROBE_REMOVE;
  }
  GST_INFO_OBJECT (self, "input %" GST_PTR_FORMAT " is %s, sent as %s", pad,
      name, codec ? codec->encoding_name : "(unsupported)");

  GstElement *prev = entry;
  gst_element_unlink (entry, tee);
  for (GstElement *e : chain) {
    gst_bin_add (GST_BIN (self), e);
    gst_element_link (prev, e);
    prev = e;
  }
  gst_element_link (prev, tee);
  for (auto it = chain.rbegin (); it != chain.rend (); ++it)
    gst_element_sync_state_with_parent (*it);
  gst_object_unref (tee);
  gst_object_unref (entry);

  {
    std::lock_guard<std::mutex> lock (priv->streams_lock);
    for (SendStream &s : priv->streams)
      if (s.tee == tee)
        s.codec = codec;
  }
  if (auto member = self->priv->slot->member ())
    member->media_ready_changed ();
  return GST_PAD_PROBE_REMOVE;
}

// Peers keep their connections after the inputs end, so nothing inside
// posts EOS: the sink does, once every input has had it.
static GstPadProbeReturn
on_input_event (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  if (GST_EVENT_TYPE (event) != GST_EVENT_EOS &&
      GST_EVENT_TYPE (event) != GST_EVENT_FLUSH_STOP)
    return GST_PAD_PROBE_OK;
  auto self = GST_P2PCALL_SINK (data);
  GstP2pcallSinkPrivate *priv = self->priv;
  bool eos = GST_EVENT_TYPE (event) == GST_EVENT_EOS;
  bool all_eos = eos;
  {
    std::lock_guard<std::mutex> lock (priv->streams_lock);
    for (SendStream &s : priv->streams) {
      g_autoptr (GstPad) sink = gst_element_get_static_pad (s.entry, "sink");
      if (sink == pad)
        s.eos = eos;
      all_eos = all_eos && s.eos;
    }
  }
  if (all_eos) {
    GST_INFO_OBJECT (self, "every input ended");
    GstMessage *msg = gst_message_new_eos (GST_OBJECT (self));
    gst_message_set_seqnum (msg, gst_event_get_seqnum (event));
    gst_element_post_message (GST_ELEMENT (self), msg);
  }
  return eos ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

static void
gst_p2pcall_sink_handle_message (GstBin *bin, GstMessage *msg)
{
  // EOS is the sink's own (on_input_event), not its children's.
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS &&
      GST_MESSAGE_SRC (msg) != GST_OBJECT (bin)) {
    gst_message_unref (msg);
    return;
  }
  GST_BIN_CLASS (parent_class)->handle_message (bin, msg);
}

static GstPad *
gst_p2pcall_sink_request_new_pad (GstElement *element, GstPadTemplate *templ,
    const gchar *req_name, const GstCaps *caps)
{
  auto self = GST_P2PCALL_SINK (element);
  GstP2pcallSinkPrivate *priv = self->priv;
  bool video = g_str_has_prefix (templ->name_template, "video");

  SendStream stream;
  stream.media = video ? "video" : "audio";
  {
    std::lock_guard<std::mutex> lock (priv->streams_lock);
    guint n = video ? priv->next_video_pad++ : priv->next_audio_pad++;
    stream.pad_name = stream.media + "_" + std::to_string (n);
    stream.index = priv->streams.size ();
  }

  // The entry keeps the template's caps in caps queries, so that upstream
  // negotiates something the chain built later can take.
  stream.entry = make ("capsfilter");
  g_object_set (stream.entry, "caps", GST_PAD_TEMPLATE_CAPS (templ), nullptr);
  stream.tee = make ("tee");
  g_object_set (stream.tee, "allow-not-linked", TRUE, nullptr);
  gst_bin_add_many (GST_BIN (self), stream.entry, stream.tee, nullptr);
  gst_element_link (stream.entry, stream.tee);

  g_autoptr (GstPad) entry_src = gst_element_get_static_pad (stream.entry,
      "src");
  gst_pad_add_probe (entry_src, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      on_input_caps, self, nullptr);
  g_autoptr (GstPad) entry_sink = gst_element_get_static_pad (stream.entry,
      "sink");
  gst_pad_add_probe (entry_sink, GST_PAD_PROBE_TYPE_EVENT_BOTH,
      on_input_event, self, nullptr);
  GstPad *ghost = gst_ghost_pad_new_from_template (stream.pad_name.c_str (),
      entry_sink, templ);
  gst_object_ref (stream.entry);
  gst_object_ref (stream.tee);
  {
    std::lock_guard<std::mutex> lock (priv->streams_lock);
    priv->streams.push_back (stream);
  }
  gst_element_sync_state_with_parent (stream.tee);
  gst_element_sync_state_with_parent (stream.entry);
  gst_pad_set_active (ghost, TRUE);
  gst_element_add_pad (element, ghost);
  GST_DEBUG_OBJECT (self, "new input %s", stream.pad_name.c_str ());
  // In a call already: the peers get the new input once it has caps.
  if (auto member = self->priv->slot->member ())
    member->media_changed ();
  return ghost;
}

static void
gst_p2pcall_sink_release_pad (GstElement *element, GstPad *pad)
{
  auto self = GST_P2PCALL_SINK (element);
  GstP2pcallSinkPrivate *priv = self->priv;
  GstElement *entry = nullptr, *tee = nullptr;
  {
    std::lock_guard<std::mutex> lock (priv->streams_lock);
    for (auto it = priv->streams.begin (); it != priv->streams.end (); ++it)
      if (it->pad_name == GST_PAD_NAME (pad)) {
        entry = it->entry;
        tee = it->tee;
        priv->streams.erase (it);
        break;
      }
  }
  gst_element_remove_pad (element, pad);
  // In a call: the peers stop getting it.
  if (auto member = self->priv->slot->member ())
    member->media_changed ();
  // The chain between entry and tee stays until the bin goes: peers still
  // hold branches of the tee. When the bin is disposed, it is gone already.
  if (entry && GST_OBJECT_PARENT (entry) == GST_OBJECT (self)) {
    gst_element_set_state (entry, GST_STATE_NULL);
    gst_bin_remove (GST_BIN (self), entry);
  }
  gst_clear_object (&entry);
  gst_clear_object (&tee);
}

// Adaptive video carries transport-wide sequence numbers, and its m-line
// asks for the peer's transport-wide CC feedback (what the controller
// reads). Answering, only when the offer has it, with the offer's id.
static void
add_transport_cc (GstElement *pay, GstCaps *caps, const GstSDPMessage *offer,
    guint nth)
{
  const GstSDPMedia *offered = offer ? nth_media (offer, "video", nth) :
      nullptr;
  int id = !offer ? kTransportCcOfferId :
      offered ? transport_cc_id (offered) : -1;
  if (id < 0)
    return;
  GstRTPHeaderExtension *ext = gst_rtp_header_extension_create_from_uri (
      kTransportCcUri);
  if (!ext)
    return;
  gst_rtp_header_extension_set_id (ext, id);
  g_signal_emit_by_name (pay, "add-extension", ext);
  gst_object_unref (ext);
  add_transport_cc_to_caps (caps, id);
}

// Nothing reaches a peer's webrtcbin before the negotiation says the peer
// takes it: webrtcbin sends whatever reaches a sink pad, into an m-line the
// peer answered inactive or recvonly (a member that receives nothing, a
// codec it refused) too, and makes the stream a sender whose RTCP sender
// reports then reach a peer that set up no receiver for them (its
// webrtcbin failed with not-linked). The branch waits, blocked, until the
// transceiver's negotiated direction includes sending.
// webrtcbin 1.22 sets a transceiver's current-direction without notifying
// it: gates are checked whenever a negotiation completes.
static void
open_gates_when_sending (GstElement *webrtcbin, GParamSpec *,
    SinkPeerMedia *media)
{
  GstWebRTCSignalingState state;
  g_object_get (webrtcbin, "signaling-state", &state, nullptr);
  if (state != GST_WEBRTC_SIGNALING_STATE_STABLE)
    return;
  for (auto &b : media->branches) {
    if (!b.transceiver)
      continue;
    GstWebRTCRTPTransceiverDirection direction;
    g_object_get (b.transceiver, "current-direction", &direction, nullptr);
    if (direction != GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY &&
        direction != GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDRECV)
      continue;
    if (gulong block = b.gate->block.exchange (0))
      gst_pad_remove_probe (b.gate->pad, block);
  }
}

std::unique_ptr<PeerMedia>
SinkHost::attach_media (GstElement *webrtcbin, CallMember &member,
    const std::string &label, const GstSDPMessage *offer,
    const MediaPlan &plan)
{
  GstP2pcallSinkPrivate *priv = self_->priv;
  GstBin *peer_bin = member.peer_bin ();
  struct Input {
    std::unique_ptr<GstElement, ObjectUnref> tee;
    const Codec *codec;
    std::string media;
    guint index;
    std::shared_ptr<EncodingLadder> ladder;
  };
  std::vector<Input> inputs;
  {
    std::lock_guard<std::mutex> lock (priv->streams_lock);
    for (const SendStream &s : priv->streams)
      if (s.codec)
        inputs.push_back ({std::unique_ptr<GstElement, ObjectUnref> (
                  GST_ELEMENT (gst_object_ref (s.tee))), s.codec, s.media,
              s.index, s.ladder});
  }
  // Audio first: the first m-line carries the bundle, and a peer refusing a
  // video codec (Firefox without OpenH264 refuses H.264) then loses only the
  // video, not the whole bundle with the sound.
  std::stable_sort (inputs.begin (), inputs.end (),
      [] (const Input &a, const Input &b) {
        return a.media == "audio" && b.media != "audio";
      });

  auto media = std::make_unique<SinkPeerMedia> ();
  media->webrtcbin = webrtcbin;
  bool adaptive = false, audio = false;
  g_signal_connect (webrtcbin, "notify::signaling-state",
      G_CALLBACK (open_gates_when_sending), media.get ());
  guint nth_video = 0, nth_audio = 0;
  for (Input &in : inputs) {
    guint nth = in.media == "video" ? nth_video++ : nth_audio++;
    int pt = offer ? offered_payload_type (offer, in.media.c_str (), nth,
        *in.codec) : (int) (96 + in.index);
    if (pt == kCodecNotOffered)
      // As RoomSession warns when an answer refuses what we offer (Firefox
      // without OpenH264 offers no H.264): nothing shows up on its side.
      GST_ELEMENT_WARNING (self_, STREAM, CODEC_NOT_FOUND,
          ("Peer %s refused our %s (%s): it decodes none of these codecs.",
              label.c_str (), in.media.c_str (), in.codec->encoding_name),
          ("%s %u is not in its offer", in.media.c_str (), nth));
    if (pt < 0) {
      GST_DEBUG_OBJECT (self_, "peer %s does not take %s %u in %s",
          label.c_str (), in.media.c_str (), nth, in.codec->encoding_name);
      continue;
    }
    GstElement *queue = make ("queue");
    GstElement *pay = make (in.codec->payloader);
    // A peer that falls behind loses frames, not the others' latency.
    gst_util_set_object_arg (G_OBJECT (queue), "leaky", "downstream");
    g_object_set (queue, "max-size-buffers", 0, "max-size-bytes", 0,
        "max-size-time", (guint64) GST_SECOND, nullptr);
    g_object_set (pay, "pt", (guint) pt, "mtu", 1200, nullptr);
    if (g_str_equal (in.codec->encoding_name, "VP8") ||
        g_str_equal (in.codec->encoding_name, "VP9"))
      gst_util_set_object_arg (G_OBJECT (pay), "picture-id-mode", "15-bit");
    if (g_str_equal (in.codec->encoding_name, "H264")) {
      g_object_set (pay, "config-interval", -1, nullptr);
      gst_util_set_object_arg (G_OBJECT (pay), "aggregate-mode",
          "zero-latency");
    }
    GstElement *proxysink = make ("proxysink");
    GstElement *proxysrc = make_crossing_proxysrc (200 * GST_MSECOND);
    g_object_set (proxysrc, "proxysink", proxysink, nullptr);
    gst_bin_add_many (GST_BIN (self_), queue, pay, proxysink, nullptr);
    gst_element_link_many (queue, pay, proxysink, nullptr);
    gst_bin_add (peer_bin, proxysrc);

    g_autoptr (GstCaps) caps = rtp_caps (*in.codec, pt);
    if (in.media == "video") {
      // A fixed SSRC in the caps: webrtcbin then names it in the SDP next
      // to its retransmission SSRC (a=ssrc-group:FID); without one it
      // writes 0 there, and browsers drop the unnamed stream.
      guint32 ssrc = g_random_int ();
      g_object_set (pay, "ssrc", ssrc, nullptr);
      gst_caps_set_simple (caps, "ssrc", G_TYPE_UINT, ssrc, nullptr);
    }
    if (in.ladder)
      add_transport_cc (pay, caps, offer, nth);
    GstPadTemplate *templ = gst_element_get_pad_template (webrtcbin,
        "sink_%u");
    g_autoptr (GstPad) wb_pad = gst_element_request_pad (webrtcbin, templ,
        nullptr, caps);
    g_autoptr (GstPad) proxy_src = gst_element_get_static_pad (proxysrc,
        "src");
    priv->slot->crossings.add (proxy_src, Crossings::kIntoMember,
        GST_ELEMENT (self_), member);
    gst_pad_link (proxy_src, wb_pad);
    GstWebRTCRTPTransceiver *trans = nullptr;
    SendGate *gate = nullptr;
    g_object_get (wb_pad, "transceiver", &trans, nullptr);
    if (trans) {
      // Both ways when the member has a p2pcallsrc too: what the peer sends
      // back comes out of this transceiver.
      g_object_set (trans, "direction", plan.receive ?
          GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDRECV :
          GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY,
          "codec-preferences", caps, nullptr);
      // Video lost on the way is sent again when the peer asks (NACK, and
      // RTX where the peer takes it): a lost packet otherwise breaks the
      // picture until the next key frame.
      if (in.media == "video")
        g_object_set (trans, "do-nack", TRUE, nullptr);
      gate = new SendGate ();
      gate->pad = GST_PAD (gst_object_ref (proxy_src));
      gate->block = gst_pad_add_probe (proxy_src,
          GST_PAD_PROBE_TYPE_BLOCK_DOWNSTREAM, nullptr, nullptr, nullptr);
    }

    gst_element_sync_state_with_parent (proxysrc);
    gst_element_sync_state_with_parent (proxysink);
    gst_element_sync_state_with_parent (pay);
    gst_element_sync_state_with_parent (queue);
    audio |= in.media == "audio";
    SinkPeerMedia::Branch branch {nullptr, nullptr, queue, pay, proxysink,
      proxysrc, trans, gate, nullptr, nullptr};
    if (in.ladder) {
      connect_ladder (in.ladder, webrtcbin, queue, branch);
      adaptive = true;
    } else {
      branch.tee_pad = gst_element_request_pad_simple (in.tee.get (),
          "src_%u");
      g_autoptr (GstPad) queue_sink = gst_element_get_static_pad (queue,
          "sink");
      gst_pad_link (branch.tee_pad, queue_sink);
      branch.tee = in.tee.release ();
    }
    media->branches.push_back (branch);
  }
  if (adaptive)
    priv->controller->add_peer (webrtcbin, label, audio);
  return media;
}

// A peer's branch of a ladder input: the ladder's funnel for this peer,
// started on the layer its start bitrate fits, then @queue.
void
SinkHost::connect_ladder (const std::shared_ptr<EncodingLadder> &ladder,
    GstElement *webrtcbin, GstElement *queue, SinkPeerMedia::Branch &branch)
{
  GstElement *funnel = ladder->connect_peer (webrtcbin,
      self_->priv->controller->start_layer (*ladder));
  gst_element_link (funnel, queue);
  branch.ladder = ladder;
  branch.funnel = GST_ELEMENT (gst_object_ref (funnel));
}

void
SinkHost::unlink_media (PeerMedia *media)
{
  auto sink_media = static_cast<SinkPeerMedia *> (media);
  if (!sink_media)
    return;
  self_->priv->controller->remove_peer (sink_media->webrtcbin);
  for (auto &b : sink_media->branches) {
    if (b.ladder) {
      b.ladder->disconnect_peer (sink_media->webrtcbin);
      b.ladder.reset ();
    }
    if (!b.tee_pad)
      continue;
    gst_element_release_request_pad (b.tee, b.tee_pad);
    gst_clear_object (&b.tee_pad);
    gst_clear_object (&b.tee);
  }
}

void
SinkHost::detach_media (GstElement *webrtcbin, CallMember &member,
    PeerMedia *media)
{
  GstBin *peer_bin = member.peer_bin ();
  auto sink_media = static_cast<SinkPeerMedia *> (media);
  if (!sink_media)
    return;
  g_signal_handlers_disconnect_by_data (webrtcbin, sink_media);
  unlink_media (media);
  for (auto &b : sink_media->branches) {
    if (b.transceiver) {
      gst_clear_object (&b.transceiver);
      delete b.gate;
    }
    g_autoptr (GstPad) proxy_src = gst_element_get_static_pad (b.proxysrc,
        "src");
    self_->priv->slot->crossings.remove (proxy_src);
    gst_element_set_locked_state (b.proxysrc, TRUE);
    gst_element_set_state (b.proxysrc, GST_STATE_NULL);
    gst_bin_remove (peer_bin, b.proxysrc);
    for (GstElement *e : {b.funnel, b.queue, b.payloader, b.proxysink}) {
      if (!e)
        continue;
      gst_element_set_locked_state (e, TRUE);
      gst_element_set_state (e, GST_STATE_NULL);
      gst_bin_remove (GST_BIN (self_), e);
    }
    gst_clear_object (&b.funnel);
  }
  sink_media->branches.clear ();
}

void
SinkHost::peer_connected (PeerMedia *media)
{
  auto sink_media = static_cast<SinkPeerMedia *> (media);
  if (!sink_media)
    return;
  // The new viewer needs a key frame now, not at the next interval.
  for (auto &b : sink_media->branches)
    if (b.ladder)
      b.ladder->force_key_unit (sink_media->webrtcbin);
    else if (b.tee_pad)
      gst_pad_send_event (b.tee_pad,
          gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE,
              TRUE, 0));
}

// ---------------------------------------------------------------------------

static void
gst_p2pcall_sink_init (GstP2pcallSink *self)
{
  self->priv = new GstP2pcallSinkPrivate ();
  self->priv->config.server = kDefaultServer;
  self->priv->controller = std::make_unique<AdaptiveController> (
      GST_ELEMENT (self));
  self->priv->slot = std::make_unique<MemberSlot> (CallMember::kSender,
      std::make_unique<SinkHost> (self));
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SINK);
}

static void
gst_p2pcall_sink_finalize (GObject *object)
{
  auto self = GST_P2PCALL_SINK (object);
  self->priv->controller->stop ();
  self->priv->slot.reset ();
  for (SendStream &s : self->priv->streams) {
    gst_object_unref (s.entry);
    gst_object_unref (s.tee);
  }
  delete self->priv;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_p2pcall_sink_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec)
{
  GstP2pcallSinkPrivate *priv = GST_P2PCALL_SINK (object)->priv;
  std::lock_guard<std::mutex> lock (priv->settings_lock);
  if (set_connection_property (priv->config, prop_id, value))
    return;
  switch (prop_id) {
    case PROP_VIDEO_BITRATE:
      priv->video_bitrate = g_value_get_uint (value);
      break;
    case PROP_VIDEO_CODEC:
      priv->video_codec = (VideoCodec) g_value_get_enum (value);
      break;
    case PROP_CONGESTION_CONTROL:
      priv->congestion_control = (CongestionControl) g_value_get_enum (value);
      break;
    case PROP_MIN_BITRATE:
      priv->adaptive.min_kbps = g_value_get_uint (value);
      break;
    case PROP_MAX_BITRATE:
      priv->adaptive.max_kbps = g_value_get_uint (value);
      break;
    case PROP_START_BITRATE:
      priv->adaptive.start_kbps = g_value_get_uint (value);
      break;
    case PROP_LADDER_SIZE:
      priv->adaptive.max_layers = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

// Adds what the congestion controller says of each peer (adaptive mode) to
// the session's per-peer statistics.
static void
add_rate_stats (GstStructure *stats, const std::vector<PeerRateReport> &reports)
{
  for (int i = 0; i < gst_structure_n_fields (stats); i++) {
    const char *field = gst_structure_nth_field_name (stats, i);
    const GValue *v = gst_structure_get_value (stats, field);
    if (!GST_VALUE_HOLDS_STRUCTURE (v))
      continue;
    const GstStructure *peer = gst_value_get_structure (v);
    const char *id = gst_structure_get_string (peer, "peer-id");
    for (const PeerRateReport &r : reports) {
      if (!id || r.label != id)
        continue;
      GstStructure *more = gst_structure_copy (peer);
      gst_structure_set (more,
          "estimate", G_TYPE_UINT64, (guint64) r.estimate_bps,
          "layer", G_TYPE_INT, r.layer,
          "width", G_TYPE_INT, r.width,
          "height", G_TYPE_INT, r.height,
          "bitrate-sent", G_TYPE_UINT64, (guint64) r.sent_bps,
          "loss", G_TYPE_DOUBLE, r.loss,
          "transport-cc", G_TYPE_BOOLEAN, r.twcc, nullptr);
      // Replaces (frees) @peer: nothing of it is read afterwards.
      gst_structure_set (stats, field, GST_TYPE_STRUCTURE, more, nullptr);
      gst_structure_free (more);
      break;
    }
  }
}

static void
gst_p2pcall_sink_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  auto self = GST_P2PCALL_SINK (object);
  GstP2pcallSinkPrivate *priv = self->priv;
  if (prop_id == PROP_STATS) {
    // Not under the settings lock: this waits for every webrtcbin.
    GstStructure *stats = priv->slot->stats ();
    add_rate_stats (stats, priv->controller->reports ());
    g_value_take_boxed (value, stats);
    return;
  }
  std::lock_guard<std::mutex> lock (priv->settings_lock);
  if (get_connection_property (priv->config, prop_id, value))
    return;
  switch (prop_id) {
    case PROP_VIDEO_BITRATE:
      g_value_set_uint (value, priv->video_bitrate);
      break;
    case PROP_VIDEO_CODEC:
      g_value_set_enum (value, priv->video_codec);
      break;
    case PROP_CONGESTION_CONTROL:
      g_value_set_enum (value, priv->congestion_control);
      break;
    case PROP_MIN_BITRATE:
      g_value_set_uint (value, priv->adaptive.min_kbps);
      break;
    case PROP_MAX_BITRATE:
      g_value_set_uint (value, priv->adaptive.max_kbps);
      break;
    case PROP_START_BITRATE:
      g_value_set_uint (value, priv->adaptive.start_kbps);
      break;
    case PROP_LADDER_SIZE:
      g_value_set_int (value, priv->adaptive.max_layers);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static GstStateChangeReturn
gst_p2pcall_sink_change_state (GstElement *element, GstStateChange transition)
{
  auto self = GST_P2PCALL_SINK (element);
  GstP2pcallSinkPrivate *priv = self->priv;

  if (transition == GST_STATE_CHANGE_NULL_TO_READY) {
    VideoCodec codec;
    {
      std::lock_guard<std::mutex> lock (priv->settings_lock);
      codec = priv->video_codec;
    }
    const Codec *video = find_codec (codec == VIDEO_CODEC_H264 ? "H264" :
        codec == VIDEO_CODEC_VP9 ? "VP9" : "VP8");
    const Codec *audio = find_codec ("OPUS");
    if (!check_factories (element, {"webrtcbin", "nicesrc", "tee", "queue",
                "capsfilter", "videoconvert", video->encoder,
                video->payloader, "audioconvert", "audioresample",
                audio->encoder, audio->payloader, "proxysink", "proxysrc"}))
      return GST_STATE_CHANGE_FAILURE;
    prepare_dtls_certificate ();
  }
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    SessionConfig config;
    {
      std::lock_guard<std::mutex> lock (priv->settings_lock);
      config = priv->config;
    }
    if (!check_connection_settings (element, config))
      return GST_STATE_CHANGE_FAILURE;
    {
      std::lock_guard<std::mutex> lock (priv->streams_lock);
      for (SendStream &s : priv->streams)
        s.eos = false;
    }
    if (!priv->slot->attach (element, config, gst_p2pcall_sink_debug))
      return GST_STATE_CHANGE_FAILURE;
  }
  if (transition == GST_STATE_CHANGE_PAUSED_TO_PLAYING)
    priv->slot->playing (element);

  if (transition == GST_STATE_CHANGE_READY_TO_NULL)
    wait_dtls_certificate ();
  // No layer starts or stops behind the bin's own state change.
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    priv->controller->stop ();
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);

  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    priv->slot->detach ();
  return ret;
}

static void
gst_p2pcall_sink_class_init (GstP2pcallSinkClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->finalize = gst_p2pcall_sink_finalize;
  gobject_class->set_property = gst_p2pcall_sink_set_property;
  gobject_class->get_property = gst_p2pcall_sink_get_property;

  install_connection_properties (gobject_class);
  /**
   * GstP2pcallSink:video-bitrate:
   *
   * Target bitrate of the video encoder in kbit/s, for raw video inputs
   * with congestion-control=none (adaptive takes
   * #GstP2pcallSink:max-bitrate for its top layer).
   */
  g_object_class_install_property (gobject_class, PROP_VIDEO_BITRATE,
      g_param_spec_uint ("video-bitrate", "Video bitrate",
          "Target video bitrate in kbit/s (raw video inputs)", 50, 20000,
          kDefaultVideoBitrate, (GParamFlags) (G_PARAM_READWRITE |
              GST_PARAM_MUTABLE_READY | G_PARAM_STATIC_STRINGS)));
  /**
   * GstP2pcallSink:video-codec:
   *
   * Codec raw video inputs are encoded to. VP8 is decoded by every browser.
   */
  g_object_class_install_property (gobject_class, PROP_VIDEO_CODEC,
      g_param_spec_enum ("video-codec", "Video codec",
          "Codec raw video is encoded to", GST_TYPE_P2PCALL_VIDEO_CODEC,
          kDefaultVideoCodec, (GParamFlags) (G_PARAM_READWRITE |
              GST_PARAM_MUTABLE_READY | G_PARAM_STATIC_STRINGS)));

  /**
   * GstP2pcallSink:congestion-control:
   *
   * none: raw video is encoded once at #GstP2pcallSink:video-bitrate and
   * every peer gets that (the default). adaptive: each peer's link is
   * estimated from its feedback (loss, round-trip time, transport-wide CC)
   * and the peer is sent the highest of at most
   * #GstP2pcallSink:ladder-size encodings that fits (full, half, quarter
   * resolution...), each encoder started only while a peer takes it.
   */
  g_object_class_install_property (gobject_class, PROP_CONGESTION_CONTROL,
      g_param_spec_enum ("congestion-control", "Congestion control",
          "Per-peer rate adaptation of raw video inputs",
          GST_TYPE_P2PCALL_CONGESTION_CONTROL, kDefaultCongestionControl,
          (GParamFlags) (G_PARAM_READWRITE | GST_PARAM_MUTABLE_READY |
              G_PARAM_STATIC_STRINGS)));
  /**
   * GstP2pcallSink:min-bitrate:
   *
   * congestion-control=adaptive: the lowest estimate and encoder bitrate,
   * kbit/s.
   */
  g_object_class_install_property (gobject_class, PROP_MIN_BITRATE,
      g_param_spec_uint ("min-bitrate", "Minimum bitrate",
          "Lowest per-peer estimate and encoder bitrate in kbit/s (adaptive)",
          30, 20000, kDefaultMinBitrate, (GParamFlags) (G_PARAM_READWRITE |
              GST_PARAM_MUTABLE_READY | G_PARAM_STATIC_STRINGS)));
  /**
   * GstP2pcallSink:max-bitrate:
   *
   * congestion-control=adaptive: the top layer's bitrate and the highest
   * estimate, kbit/s. Each lower layer has half the size and a third of the
   * bitrate of the one above.
   */
  g_object_class_install_property (gobject_class, PROP_MAX_BITRATE,
      g_param_spec_uint ("max-bitrate", "Maximum bitrate",
          "Top layer bitrate and highest per-peer estimate in kbit/s "
          "(adaptive)", 50, 20000, kDefaultMaxBitrate,
          (GParamFlags) (G_PARAM_READWRITE | GST_PARAM_MUTABLE_READY |
              G_PARAM_STATIC_STRINGS)));
  /**
   * GstP2pcallSink:start-bitrate:
   *
   * congestion-control=adaptive: a new peer's estimate, kbit/s; it picks the
   * layer the peer starts on.
   */
  g_object_class_install_property (gobject_class, PROP_START_BITRATE,
      g_param_spec_uint ("start-bitrate", "Start bitrate",
          "A new peer's estimate in kbit/s (adaptive)", 30, 20000,
          kDefaultStartBitrate, (GParamFlags) (G_PARAM_READWRITE |
              GST_PARAM_MUTABLE_READY | G_PARAM_STATIC_STRINGS)));
  /**
   * GstP2pcallSink:ladder-size:
   *
   * congestion-control=adaptive: at most this many encodings of each raw
   * video input, whatever the number of peers.
   */
  g_object_class_install_property (gobject_class, PROP_LADDER_SIZE,
      g_param_spec_int ("ladder-size", "Ladder size",
          "Most encodings of each raw video input (adaptive)", 1, 4,
          kDefaultLadderSize, (GParamFlags) (G_PARAM_READWRITE |
              GST_PARAM_MUTABLE_READY | G_PARAM_STATIC_STRINGS)));

  gst_element_class_add_static_pad_template (element_class, &video_template);
  gst_element_class_add_static_pad_template (element_class, &audio_template);
  gst_element_class_set_static_metadata (element_class, "p2pcall sink",
      "Sink/Network/WebRTC",
      "Sends audio and video to every member of a p2pcall room",
      "p2pcall developers");

  element_class->request_new_pad =
      GST_DEBUG_FUNCPTR (gst_p2pcall_sink_request_new_pad);
  element_class->release_pad = GST_DEBUG_FUNCPTR (gst_p2pcall_sink_release_pad);
  element_class->change_state =
      GST_DEBUG_FUNCPTR (gst_p2pcall_sink_change_state);
  GST_BIN_CLASS (klass)->handle_message =
      GST_DEBUG_FUNCPTR (gst_p2pcall_sink_handle_message);

  gst_type_mark_as_plugin_api (GST_TYPE_P2PCALL_VIDEO_CODEC,
      (GstPluginAPIFlags) 0);
  gst_type_mark_as_plugin_api (GST_TYPE_P2PCALL_CONGESTION_CONTROL,
      (GstPluginAPIFlags) 0);
  GST_DEBUG_CATEGORY_INIT (gst_p2pcall_sink_debug, "p2pcallsink", 0,
      "p2pcall room sink");
}
