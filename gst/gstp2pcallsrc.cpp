/**
 * SECTION:element-p2pcallsrc
 * @title: p2pcallsrc
 * @see_also: p2pcallsink, webrtcbin
 *
 * Joins a p2pcall room as a member that sends nothing and outputs what the
 * other members send, decoded: one sometimes pad per remote stream, named
 * `video_<peer>_<n>` and `audio_<peer>_<n>`, where `<peer>` is the member's
 * id in the room when its connection was made (the `label` field of the
 * bus messages below) and `<n>` counts that member's streams of that kind
 * from 0. Raw video and audio come out.
 *
 * When a member leaves, its pads get EOS and are removed. Pads nothing is
 * linked to drop their data, so an application can ignore members it does
 * not show.
 *
 * The bus element messages are those of p2pcallsink: `p2pcall-joined`,
 * `p2pcall-peer-joined`, `p2pcall-peer-left`,
 * `p2pcall-peer-connection-state`, `p2pcall-signalling-lost`.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 p2pcallsrc room=myroom ! videoconvert ! autovideosink
 * ]| shows the first video stream that arrives in room myroom.
 */
#include "gstp2pcallsrc.h"

#include "connection_settings.h"
#include "room_session.h"

#include <gst/webrtc/webrtc.h>

#include <map>
#include <mutex>

GST_DEBUG_CATEGORY_STATIC (gst_p2pcall_src_debug);
#define GST_CAT_DEFAULT gst_p2pcall_src_debug

using namespace p2pcall;

namespace {

enum {
  PROP_LATENCY = N_CONNECTION_PROPERTIES,
};

// webrtcbin's own default is 200 ms; calls want less.
constexpr guint kDefaultLatencyMs = 50;

// What a receive-only member offers when it is the one already in the room.
constexpr const char kRecvVideoCaps[] =
    "application/x-rtp, media=video, encoding-name=VP8, clock-rate=90000, "
    "payload=96, rtcp-fb-nack-pli=(boolean)true, "
    "rtcp-fb-ccm-fir=(boolean)true, rtcp-fb-nack=(boolean)true; "
    "application/x-rtp, media=video, encoding-name=VP9, clock-rate=90000, "
    "payload=98, rtcp-fb-nack-pli=(boolean)true, "
    "rtcp-fb-ccm-fir=(boolean)true, rtcp-fb-nack=(boolean)true; "
    "application/x-rtp, media=video, encoding-name=H264, clock-rate=90000, "
    "payload=102, packetization-mode=(string)1, "
    "profile-level-id=(string)42e01f, rtcp-fb-nack-pli=(boolean)true, "
    "rtcp-fb-ccm-fir=(boolean)true, rtcp-fb-nack=(boolean)true";
constexpr const char kRecvAudioCaps[] =
    "application/x-rtp, media=audio, encoding-name=OPUS, clock-rate=48000, "
    "payload=111, encoding-params=(string)2";

// One remote member's decoders and output pads. pad-added arrives on
// webrtcbin's and decodebin's streaming threads, removal on the session's.
struct SrcPeerMedia : PeerMedia {
  GstElement *src = nullptr;    // the p2pcallsrc, not reffed
  std::string label;
  std::mutex lock;              // guards everything below
  bool closing = false;
  std::vector<GstElement *> decoders;
  std::vector<GstPad *> pads;   // ghost pads on the element
  std::map<std::string, guint> next_index;      // by media kind
};

}  // namespace

struct GstP2pcallSrcPrivate {
  // settings_lock guards config. Never held while posting, emitting or
  // calling into children.
  std::mutex settings_lock;
  SessionConfig config;

  std::unique_ptr<RoomSessionHost> host;
  std::unique_ptr<RoomSession> session;         // uses host: goes first
};

struct _GstP2pcallSrc {
  GstBin parent;
  GstP2pcallSrcPrivate *priv;
};

#define gst_p2pcall_src_parent_class parent_class
G_DEFINE_TYPE (GstP2pcallSrc, gst_p2pcall_src, GST_TYPE_BIN);

static GstStaticPadTemplate video_template =
GST_STATIC_PAD_TEMPLATE ("video_%s_%u", GST_PAD_SRC, GST_PAD_SOMETIMES,
    GST_STATIC_CAPS ("video/x-raw"));
static GstStaticPadTemplate audio_template =
GST_STATIC_PAD_TEMPLATE ("audio_%s_%u", GST_PAD_SRC, GST_PAD_SOMETIMES,
    GST_STATIC_CAPS ("audio/x-raw"));

// Data for pads nothing is linked to is dropped: a member the application
// does not show must not stop the others with not-linked.
static GstPadProbeReturn
drop_when_unlinked (GstPad *, GstPadProbeInfo *, gpointer ghost)
{
  return gst_pad_is_linked (GST_PAD (ghost)) ? GST_PAD_PROBE_OK :
      GST_PAD_PROBE_DROP;
}

static void
on_decoded_pad (GstElement *, GstPad *pad, SrcPeerMedia *media)
{
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  if (!caps)
    caps = gst_pad_query_caps (pad, nullptr);
  const char *name = gst_structure_get_name (gst_caps_get_structure (caps, 0));
  bool video = g_str_has_prefix (name, "video/");
  if (!video && !g_str_has_prefix (name, "audio/"))
    return;
  const char *kind = video ? "video" : "audio";
  GstElement *src = media->src;

  GstPad *ghost;
  {
    std::lock_guard<std::mutex> lock (media->lock);
    if (media->closing)
      return;
    std::string pad_name = std::string (kind) + "_" + media->label + "_" +
        std::to_string (media->next_index[kind]++);
    ghost = gst_ghost_pad_new_from_template (pad_name.c_str (), pad,
        gst_element_get_pad_template (src, video ? "video_%s_%u" :
            "audio_%s_%u"));
    media->pads.push_back (GST_PAD (gst_object_ref (ghost)));
  }
  gst_pad_add_probe (pad, (GstPadProbeType) (GST_PAD_PROBE_TYPE_BUFFER |
          GST_PAD_PROBE_TYPE_BUFFER_LIST), drop_when_unlinked, ghost, nullptr);
  gst_pad_set_active (ghost, TRUE);
  GST_INFO_OBJECT (src, "new output %s", GST_PAD_NAME (ghost));
  gst_element_add_pad (src, ghost);
}

static void
on_webrtc_pad (GstElement *, GstPad *pad, SrcPeerMedia *media)
{
  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  GstElement *decoder = gst_element_factory_make ("decodebin", nullptr);
  {
    std::lock_guard<std::mutex> lock (media->lock);
    if (media->closing) {
      gst_object_unref (gst_object_ref_sink (decoder));
      return;
    }
    media->decoders.push_back (GST_ELEMENT (gst_object_ref (decoder)));
  }
  g_signal_connect (decoder, "pad-added", G_CALLBACK (on_decoded_pad), media);
  gst_bin_add (GST_BIN (media->src), decoder);
  gst_element_sync_state_with_parent (decoder);
  g_autoptr (GstPad) sink = gst_element_get_static_pad (decoder, "sink");
  if (gst_pad_link (pad, sink) != GST_PAD_LINK_OK)
    GST_WARNING_OBJECT (media->src, "could not decode %" GST_PTR_FORMAT, pad);
}

class SrcHost final : public RoomSessionHost {
public:
  explicit SrcHost (GstP2pcallSrc *self) : self_ (self) {}

  bool sends_audio () const override { return false; }
  bool sends_video () const override { return false; }
  bool media_ready () const override { return true; }

  std::unique_ptr<PeerMedia> attach_media (GstElement *webrtcbin,
      const std::string &label, const GstSDPMessage *offer) override
  {
    auto media = std::make_unique<SrcPeerMedia> ();
    media->src = GST_ELEMENT (self_);
    media->label = label;
    g_signal_connect (webrtcbin, "pad-added", G_CALLBACK (on_webrtc_pad),
        media.get ());
    if (!offer) {
      // We offer: ask for what a member may send.
      for (const char *caps_text : {kRecvVideoCaps, kRecvAudioCaps}) {
        g_autoptr (GstCaps) caps = gst_caps_from_string (caps_text);
        GstWebRTCRTPTransceiver *trans = nullptr;
        g_signal_emit_by_name (webrtcbin, "add-transceiver",
            GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, caps, &trans);
        gst_clear_object (&trans);
      }
    }
    return media;
  }

  void detach_media (GstElement *webrtcbin, PeerMedia *peer_media) override
  {
    auto media = static_cast<SrcPeerMedia *> (peer_media);
    if (!media)
      return;
    g_signal_handlers_disconnect_by_data (webrtcbin, media);
    std::vector<GstPad *> pads;
    std::vector<GstElement *> decoders;
    {
      std::lock_guard<std::mutex> lock (media->lock);
      media->closing = true;
      pads.swap (media->pads);
      decoders.swap (media->decoders);
    }
    for (GstPad *pad : pads) {
      gst_pad_push_event (pad, gst_event_new_eos ());
      gst_pad_set_active (pad, FALSE);
      gst_element_remove_pad (GST_ELEMENT (self_), pad);
      gst_object_unref (pad);
    }
    for (GstElement *decoder : decoders) {
      g_signal_handlers_disconnect_by_data (decoder, media);
      gst_element_set_locked_state (decoder, TRUE);
      gst_element_set_state (decoder, GST_STATE_NULL);
      gst_bin_remove (GST_BIN (self_), decoder);
      gst_object_unref (decoder);
    }
  }

private:
  GstP2pcallSrc *self_;
};

static void
gst_p2pcall_src_init (GstP2pcallSrc *self)
{
  self->priv = new GstP2pcallSrcPrivate ();
  self->priv->config.server = kDefaultServer;
  self->priv->config.latency_ms = kDefaultLatencyMs;
  self->priv->host = std::make_unique<SrcHost> (self);
  self->priv->session = std::make_unique<RoomSession> (GST_ELEMENT (self),
      *self->priv->host, gst_p2pcall_src_debug);
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SOURCE);
}

static void
gst_p2pcall_src_finalize (GObject *object)
{
  auto self = GST_P2PCALL_SRC (object);
  self->priv->session.reset ();
  delete self->priv;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_p2pcall_src_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec)
{
  GstP2pcallSrcPrivate *priv = GST_P2PCALL_SRC (object)->priv;
  std::lock_guard<std::mutex> lock (priv->settings_lock);
  if (set_connection_property (priv->config, prop_id, value))
    return;
  if (prop_id == PROP_LATENCY)
    priv->config.latency_ms = (int) g_value_get_uint (value);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
gst_p2pcall_src_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstP2pcallSrcPrivate *priv = GST_P2PCALL_SRC (object)->priv;
  if (prop_id == PROP_STATS) {
    // Not under the settings lock: this waits for every webrtcbin.
    g_value_take_boxed (value, priv->session->stats ());
    return;
  }
  std::lock_guard<std::mutex> lock (priv->settings_lock);
  if (get_connection_property (priv->config, prop_id, value))
    return;
  if (prop_id == PROP_LATENCY)
    g_value_set_uint (value, (guint) priv->config.latency_ms);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static GstStateChangeReturn
gst_p2pcall_src_change_state (GstElement *element, GstStateChange transition)
{
  auto self = GST_P2PCALL_SRC (element);
  GstP2pcallSrcPrivate *priv = self->priv;

  if (transition == GST_STATE_CHANGE_NULL_TO_READY &&
      !check_factories (element, {"webrtcbin", "nicesrc", "decodebin",
              "rtpvp8depay", "vp8dec", "rtpopusdepay", "opusdec"}))
    return GST_STATE_CHANGE_FAILURE;
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    SessionConfig config;
    {
      std::lock_guard<std::mutex> lock (priv->settings_lock);
      config = priv->config;
    }
    if (!check_connection_settings (element, config))
      return GST_STATE_CHANGE_FAILURE;
    priv->session->start (config);
  }

  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
    case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
      // Live: data comes when members do, there is nothing to preroll.
      ret = GST_STATE_CHANGE_NO_PREROLL;
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      priv->session->stop ();
      break;
    default:
      break;
  }
  return ret;
}

static void
gst_p2pcall_src_class_init (GstP2pcallSrcClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->finalize = gst_p2pcall_src_finalize;
  gobject_class->set_property = gst_p2pcall_src_set_property;
  gobject_class->get_property = gst_p2pcall_src_get_property;

  install_connection_properties (gobject_class);
  /**
   * GstP2pcallSrc:latency:
   *
   * Jitter buffer latency in milliseconds for every remote stream.
   */
  g_object_class_install_property (gobject_class, PROP_LATENCY,
      g_param_spec_uint ("latency", "Latency",
          "Jitter buffer latency in milliseconds", 0, 10000,
          kDefaultLatencyMs, (GParamFlags) (G_PARAM_READWRITE |
              GST_PARAM_MUTABLE_READY | G_PARAM_STATIC_STRINGS)));

  gst_element_class_add_static_pad_template (element_class, &video_template);
  gst_element_class_add_static_pad_template (element_class, &audio_template);
  gst_element_class_set_static_metadata (element_class, "p2pcall source",
      "Source/Network/WebRTC",
      "Receives the audio and video of every member of a p2pcall room",
      "p2pcall developers");
  element_class->change_state =
      GST_DEBUG_FUNCPTR (gst_p2pcall_src_change_state);

  GST_DEBUG_CATEGORY_INIT (gst_p2pcall_src_debug, "p2pcallsrc", 0,
      "p2pcall room source");
}
