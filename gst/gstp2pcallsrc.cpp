/**
 * SECTION:element-p2pcallsrc
 * @title: p2pcallsrc
 * @see_also: p2pcallsink, webrtcbin
 *
 * Joins a p2pcall room and outputs what the other members send, decoded, in
 * one of two layouts. Alone it is a member that sends nothing; with a
 * p2pcallsink of the same server, room and peer-name in the same process,
 * the two are one member that sends and receives on one peer connection per
 * remote member. The layouts:
 *
 * - `layout=grid`: two always pads. `video` carries every remote camera
 *   composited into an adaptive grid of `grid-width` × `grid-height` at
 *   `grid-framerate`, `audio` every remote microphone mixed (48 kHz
 *   stereo). Both run live from PLAYING on, black and silent until someone
 *   joins; members joining and leaving change the grid, not the timeline.
 * - `layout=separate`: one sometimes pad per remote stream, named
 *   `video_<peer>_<n>` and `audio_<peer>_<n>`, where `<peer>` is the
 *   member's id in the room when its connection was made (the `label` field
 *   of the bus messages below) and `<n>` counts that member's streams of
 *   that kind from 0. When a member leaves, its pads get EOS and are
 *   removed.
 *
 * Pads nothing is linked to drop their data, so an application can ignore
 * what it does not show.
 *
 * p2pcallsrc handles `p2pcall://HOST:PORT/ROOM?peer-name=NAME&token=TOKEN`
 * URIs (`p2pcalls://` for a server behind TLS), so players can watch a
 * room: `gst-play-1.0 p2pcall://127.0.0.1:8080/myroom`.
 *
 * The bus element messages are those of p2pcallsink: `p2pcall-joined`,
 * `p2pcall-peer-joined`, `p2pcall-peer-left`,
 * `p2pcall-peer-connection-state`, `p2pcall-signalling-lost`.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 p2pcallsrc room=myroom ! videoconvert ! autovideosink
 * ]| shows everyone in room myroom, in a grid.
 * |[
 * gst-launch-1.0 p2pcallsrc room=myroom layout=separate ! videoconvert ! autovideosink
 * ]| shows the first camera that arrives in room myroom.
 * |[
 * gst-launch-1.0 -e p2pcallsrc room=myroom layout=grid name=call
 *     call.video ! videoconvert ! vp8enc deadline=1 ! queue ! mux.
 *     call.audio ! audioconvert ! opusenc ! queue ! mux.
 *     matroskamux name=mux ! filesink location=call.mkv
 * ]| records the whole call, every camera in one picture, into call.mkv.
 */
#include "gstp2pcallsrc.h"

#include "call_member.h"
#include "call_mixer.h"
#include "codecs.h"
#include "connection_settings.h"
#include "dtls_certificate.h"
#include "protocol.h"
#include "room_session.h"
#include "transport_cc.h"

#include <gst/video/video.h>
#include <gst/webrtc/webrtc.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>

GST_DEBUG_CATEGORY_STATIC (gst_p2pcall_src_debug);
#define GST_CAT_DEFAULT gst_p2pcall_src_debug

using namespace p2pcall;

namespace {

enum {
  PROP_LATENCY = N_CONNECTION_PROPERTIES,
  PROP_LAYOUT,
  PROP_GRID_WIDTH,
  PROP_GRID_HEIGHT,
  PROP_GRID_FRAMERATE,
};

enum Layout {
  LAYOUT_GRID,
  LAYOUT_SEPARATE,
};

constexpr Layout kDefaultLayout = LAYOUT_GRID;
constexpr int kDefaultGridWidth = 1280;
constexpr int kDefaultGridHeight = 720;
constexpr int kDefaultGridFpsN = 30;
constexpr int kDefaultGridFpsD = 1;
// Without a port in a p2pcall:// URI.
constexpr guint kDefaultUriPort = 8080;

GType
layout_get_type ()
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    {LAYOUT_GRID, "One video pad with every camera in a grid, one audio pad "
          "mixing every microphone", "grid"},
    {LAYOUT_SEPARATE, "One sometimes pad per remote stream", "separate"},
    {0, nullptr, nullptr}
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstP2pcallSrcLayout",
            values));
  return type;
}

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
// Each stream comes from the member's pipeline through a proxysink there
// and a proxysrc here.
struct SrcPeerMedia : PeerMedia {
  GstElement *src = nullptr;    // the p2pcallsrc, not reffed
  CallMember *member = nullptr; // outlives the media
  std::string label;
  std::mutex lock;              // guards everything below
  bool closing = false;
  std::vector<GstElement *> proxysinks;         // in the member's pipeline
  std::vector<GstElement *> proxysrcs;
  std::vector<GstElement *> decoders;
  std::vector<GstPad *> pads;   // ghost pads on the element
  std::map<std::string, guint> next_index;      // by media kind
  CallMixer *mixer = nullptr;   // grid layout: where decoded streams go
  std::vector<CallMixer::Input *> inputs;
};

}  // namespace

struct GstP2pcallSrcPrivate {
  // settings_lock guards config. Never held while posting, emitting or
  // calling into children.
  std::mutex settings_lock;
  SessionConfig config;
  Layout layout = kDefaultLayout;
  GridSettings grid;

  // The grid's mixers and its always pads; changed only in NULL / READY.
  std::unique_ptr<CallMixer> mixer;
  GstPad *video_pad = nullptr;
  GstPad *audio_pad = nullptr;

  std::unique_ptr<MemberSlot> slot;

  // Every remote member's media, for an EOS sent to the element.
  std::mutex media_lock;
  std::vector<SrcPeerMedia *> media;
};

struct _GstP2pcallSrc {
  GstBin parent;
  GstP2pcallSrcPrivate *priv;
};

static void gst_p2pcall_src_uri_handler_init (gpointer iface, gpointer);

#define gst_p2pcall_src_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstP2pcallSrc, gst_p2pcall_src, GST_TYPE_BIN,
    G_IMPLEMENT_INTERFACE (GST_TYPE_URI_HANDLER,
        gst_p2pcall_src_uri_handler_init));

static GstStaticPadTemplate video_template =
GST_STATIC_PAD_TEMPLATE ("video_%s_%u", GST_PAD_SRC, GST_PAD_SOMETIMES,
    GST_STATIC_CAPS ("video/x-raw"));
static GstStaticPadTemplate audio_template =
GST_STATIC_PAD_TEMPLATE ("audio_%s_%u", GST_PAD_SRC, GST_PAD_SOMETIMES,
    GST_STATIC_CAPS ("audio/x-raw"));
static GstStaticPadTemplate grid_video_template =
GST_STATIC_PAD_TEMPLATE ("video", GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("video/x-raw"));
static GstStaticPadTemplate grid_audio_template =
GST_STATIC_PAD_TEMPLATE ("audio", GST_PAD_SRC, GST_PAD_ALWAYS,
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

  if (media->mixer) {
    std::lock_guard<std::mutex> lock (media->lock);
    if (media->closing)
      return;
    if (CallMixer::Input *input = media->mixer->add_input (pad, video))
      media->inputs.push_back (input);
    return;
  }

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
  auto self = GST_P2PCALL_SRC (media->src);
  GstElement *proxysink = gst_element_factory_make ("proxysink", nullptr);
  GstElement *proxysrc = make_crossing_proxysrc (GST_SECOND);
  GstElement *decoder = gst_element_factory_make ("decodebin", nullptr);
  {
    std::lock_guard<std::mutex> lock (media->lock);
    if (media->closing) {
      for (GstElement *e : {proxysink, proxysrc, decoder})
        gst_object_unref (gst_object_ref_sink (e));
      return;
    }
    media->proxysinks.push_back (GST_ELEMENT (gst_object_ref (proxysink)));
    media->proxysrcs.push_back (GST_ELEMENT (gst_object_ref (proxysrc)));
    media->decoders.push_back (GST_ELEMENT (gst_object_ref (decoder)));
  }
  // This side first, so that nothing reaches the proxysink before its
  // proxysrc is there to take it.
  g_object_set (proxysrc, "proxysink", proxysink, nullptr);
  g_signal_connect (decoder, "pad-added", G_CALLBACK (on_decoded_pad), media);
  gst_bin_add_many (GST_BIN (media->src), proxysrc, decoder, nullptr);
  gst_element_link (proxysrc, decoder);
  g_autoptr (GstPad) crossing = gst_element_get_static_pad (proxysrc, "src");
  self->priv->slot->crossings.add (crossing, Crossings::kIntoElement, media->src,
      *media->member);
  gst_element_sync_state_with_parent (decoder);
  gst_element_sync_state_with_parent (proxysrc);

  gst_bin_add (media->member->peer_bin (), proxysink);
  gst_element_sync_state_with_parent (proxysink);
  g_autoptr (GstPad) sink = gst_element_get_static_pad (proxysink, "sink");
  if (gst_pad_link (pad, sink) != GST_PAD_LINK_OK)
    GST_WARNING_OBJECT (media->src, "could not receive %" GST_PTR_FORMAT, pad);
}

class SrcHost final : public MemberPart {
public:
  explicit SrcHost (GstP2pcallSrc *self) : self_ (self) {}

  std::unique_ptr<PeerMedia> attach_media (GstElement *webrtcbin,
      CallMember &member, const std::string &label,
      const GstSDPMessage *offer, const MediaPlan &plan) override
  {
    auto media = std::make_unique<SrcPeerMedia> ();
    media->src = GST_ELEMENT (self_);
    media->member = &member;
    media->label = label;
    if (self_->priv->mixer && self_->priv->mixer->built ())
      media->mixer = self_->priv->mixer.get ();
    {
      std::lock_guard<std::mutex> lock (self_->priv->media_lock);
      self_->priv->media.push_back (media.get ());
    }
    g_signal_connect (webrtcbin, "pad-added", G_CALLBACK (on_webrtc_pad),
        media.get ());
    // Receiving transceivers where the member's p2pcallsink has none that
    // carries the media both ways. They give the sender transport-wide CC
    // feedback (what an adaptive sender and a browser estimate its link
    // from) and ask for lost video again (NACK, RTX): offering, we ask for
    // them; answering, we take them where offered.
    auto receive = [&] (GstCaps *caps) {
      GstWebRTCRTPTransceiver *trans = nullptr;
      g_signal_emit_by_name (webrtcbin, "add-transceiver",
          GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, caps, &trans);
      // Video: ask for what is lost again (NACK, RTX where offered).
      const char *kind = gst_structure_get_string (
          gst_caps_get_structure (caps, 0), "media");
      if (trans && g_strcmp0 (kind, "video") == 0)
        g_object_set (trans, "do-nack", TRUE, nullptr);
      gst_clear_object (&trans);
    };
    if (!offer) {
      // We offer: ask for what a member may send.
      for (const char *caps_text : {kRecvVideoCaps, kRecvAudioCaps}) {
        bool video = caps_text == kRecvVideoCaps;
        if (video ? plan.sends_video : plan.sends_audio)
          continue;
        g_autoptr (GstCaps) caps = gst_caps_from_string (caps_text);
        add_transport_cc_to_caps (caps, kTransportCcOfferId);
        receive (caps);
      }
    } else {
      // One per offered audio or video m-line, with the offered formats.
      for (guint i = 0; i < gst_sdp_message_medias_len (offer); i++) {
        const GstSDPMedia *m = gst_sdp_message_get_media (offer, i);
        bool video = g_strcmp0 (gst_sdp_media_get_media (m), "video") == 0;
        if (gst_sdp_media_get_port (m) == 0 ||
            (video ? plan.sends_video : plan.sends_audio))
          continue;
        g_autoptr (GstCaps) caps = receive_caps_for_offer (m);
        if (caps && !gst_caps_is_empty (caps))
          receive (caps);
      }
    }
    return media;
  }

  void detach_media (GstElement *webrtcbin, CallMember &member,
      PeerMedia *peer_media) override
  {
    auto media = static_cast<SrcPeerMedia *> (peer_media);
    if (!media)
      return;
    {
      std::lock_guard<std::mutex> lock (self_->priv->media_lock);
      auto &all = self_->priv->media;
      all.erase (std::remove (all.begin (), all.end (), media), all.end ());
    }
    g_signal_handlers_disconnect_by_data (webrtcbin, media);
    std::vector<GstPad *> pads;
    std::vector<GstElement *> proxysinks, proxysrcs, decoders;
    std::vector<CallMixer::Input *> inputs;
    {
      std::lock_guard<std::mutex> lock (media->lock);
      media->closing = true;
      pads.swap (media->pads);
      proxysinks.swap (media->proxysinks);
      proxysrcs.swap (media->proxysrcs);
      decoders.swap (media->decoders);
      inputs.swap (media->inputs);
    }
    for (GstElement *proxysink : proxysinks) {
      gst_element_set_locked_state (proxysink, TRUE);
      gst_element_set_state (proxysink, GST_STATE_NULL);
      gst_bin_remove (member.peer_bin (), proxysink);
      gst_object_unref (proxysink);
    }
    for (CallMixer::Input *input : inputs)
      media->mixer->remove_input (input);
    for (GstPad *pad : pads) {
      gst_pad_push_event (pad, gst_event_new_eos ());
      gst_pad_set_active (pad, FALSE);
      gst_element_remove_pad (GST_ELEMENT (self_), pad);
      gst_object_unref (pad);
    }
    for (GstElement *proxysrc : proxysrcs) {
      g_autoptr (GstPad) crossing = gst_element_get_static_pad (proxysrc,
          "src");
      self_->priv->slot->crossings.remove (crossing);
      gst_element_set_locked_state (proxysrc, TRUE);
      gst_element_set_state (proxysrc, GST_STATE_NULL);
      gst_bin_remove (GST_BIN (self_), proxysrc);
      gst_object_unref (proxysrc);
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

// Adds the grid's always pads when the layout is grid and removes them
// otherwise. Only in NULL or READY, never under the settings lock.
static void
update_grid_pads (GstP2pcallSrc *self, Layout layout)
{
  GstP2pcallSrcPrivate *priv = self->priv;
  GstElement *element = GST_ELEMENT (self);
  if (layout == LAYOUT_GRID && !priv->video_pad) {
    priv->video_pad = gst_ghost_pad_new_no_target_from_template ("video",
        gst_element_get_pad_template (element, "video"));
    priv->audio_pad = gst_ghost_pad_new_no_target_from_template ("audio",
        gst_element_get_pad_template (element, "audio"));
    gst_element_add_pad (element, priv->video_pad);
    gst_element_add_pad (element, priv->audio_pad);
  } else if (layout != LAYOUT_GRID && priv->video_pad) {
    gst_element_remove_pad (element, priv->video_pad);
    gst_element_remove_pad (element, priv->audio_pad);
    priv->video_pad = priv->audio_pad = nullptr;
  }
}

// NULL -> READY in the grid layout: the mixers behind the always pads.
static bool
build_grid (GstP2pcallSrc *self)
{
  GstP2pcallSrcPrivate *priv = self->priv;
  GridSettings grid;
  {
    std::lock_guard<std::mutex> lock (priv->settings_lock);
    if (priv->layout != LAYOUT_GRID)
      return true;
    grid = priv->grid;
    grid.latency_ms = (guint) std::max (priv->config.latency_ms, 0);
  }
  g_autoptr (GError) error = nullptr;
  if (!priv->mixer->build (grid, &error)) {
    GST_ELEMENT_ERROR (self, CORE, MISSING_PLUGIN, ("%s", error->message),
        (nullptr));
    return false;
  }
  for (auto [ghost, target] : {
        std::pair {priv->video_pad, priv->mixer->video_output ()},
        std::pair {priv->audio_pad, priv->mixer->audio_output ()}}) {
    gst_ghost_pad_set_target (GST_GHOST_PAD (ghost), target);
    gst_pad_add_probe (target, (GstPadProbeType) (GST_PAD_PROBE_TYPE_BUFFER |
            GST_PAD_PROBE_TYPE_BUFFER_LIST), drop_when_unlinked, ghost,
        nullptr);
  }
  return true;
}

static void
clear_grid (GstP2pcallSrc *self)
{
  GstP2pcallSrcPrivate *priv = self->priv;
  if (!priv->mixer->built ())
    return;
  if (priv->video_pad) {
    gst_ghost_pad_set_target (GST_GHOST_PAD (priv->video_pad), nullptr);
    gst_ghost_pad_set_target (GST_GHOST_PAD (priv->audio_pad), nullptr);
  }
  priv->mixer->clear ();
}

// A receiver that misses the first key frame (packets lost, or arriving
// before its decoder was linked) must not decode the frames after it into
// errors until the decoder gives up on the stream: depayloaders wait for
// the next key frame and ask the sender for one, decoders never give up.
static void
on_deep_element_added (GstBin *, GstBin *, GstElement *element, gpointer)
{
  GstElementFactory *factory = gst_element_get_factory (element);
  if (!factory)
    return;
  GObjectClass *klass = G_OBJECT_GET_CLASS (element);
  const char *name = GST_OBJECT_NAME (factory);
  if (g_str_has_prefix (name, "rtp") && g_str_has_suffix (name, "depay")) {
    for (const char *prop : {"request-keyframe", "wait-for-keyframe"})
      if (g_object_class_find_property (klass, prop))
        g_object_set (element, prop, TRUE, nullptr);
  } else if (GST_IS_VIDEO_DECODER (element)) {
    gst_video_decoder_set_max_errors (GST_VIDEO_DECODER (element), -1);
  }
}

static void
gst_p2pcall_src_init (GstP2pcallSrc *self)
{
  self->priv = new GstP2pcallSrcPrivate ();
  self->priv->config.server = kDefaultServer;
  self->priv->config.latency_ms = kDefaultLatencyMs;
  self->priv->grid.width = kDefaultGridWidth;
  self->priv->grid.height = kDefaultGridHeight;
  self->priv->grid.fps_n = kDefaultGridFpsN;
  self->priv->grid.fps_d = kDefaultGridFpsD;
  self->priv->mixer = std::make_unique<CallMixer> (GST_BIN (self),
      gst_p2pcall_src_debug);
  update_grid_pads (self, self->priv->layout);
  self->priv->slot = std::make_unique<MemberSlot> (CallMember::kReceiver,
      std::make_unique<SrcHost> (self));
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SOURCE);
  g_signal_connect (self, "deep-element-added",
      G_CALLBACK (on_deep_element_added), nullptr);
}

static void
gst_p2pcall_src_finalize (GObject *object)
{
  auto self = GST_P2PCALL_SRC (object);
  self->priv->slot.reset ();
  self->priv->mixer.reset ();
  delete self->priv;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_p2pcall_src_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec)
{
  GstP2pcallSrcPrivate *priv = GST_P2PCALL_SRC (object)->priv;
  Layout layout;
  {
    std::lock_guard<std::mutex> lock (priv->settings_lock);
    if (set_connection_property (priv->config, prop_id, value))
      return;
    switch (prop_id) {
      case PROP_LATENCY:
        priv->config.latency_ms = (int) g_value_get_uint (value);
        return;
      case PROP_GRID_WIDTH:
        priv->grid.width = g_value_get_int (value);
        return;
      case PROP_GRID_HEIGHT:
        priv->grid.height = g_value_get_int (value);
        return;
      case PROP_GRID_FRAMERATE:
        priv->grid.fps_n = gst_value_get_fraction_numerator (value);
        priv->grid.fps_d = gst_value_get_fraction_denominator (value);
        return;
      case PROP_LAYOUT:
        layout = priv->layout = (Layout) g_value_get_enum (value);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
        return;
    }
  }
  update_grid_pads (GST_P2PCALL_SRC (object), layout);
}

static void
gst_p2pcall_src_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  GstP2pcallSrcPrivate *priv = GST_P2PCALL_SRC (object)->priv;
  if (prop_id == PROP_STATS) {
    // Not under the settings lock: this waits for every webrtcbin.
    g_value_take_boxed (value, priv->slot->stats ());
    return;
  }
  std::lock_guard<std::mutex> lock (priv->settings_lock);
  if (get_connection_property (priv->config, prop_id, value))
    return;
  switch (prop_id) {
    case PROP_LATENCY:
      g_value_set_uint (value, (guint) priv->config.latency_ms);
      break;
    case PROP_LAYOUT:
      g_value_set_enum (value, priv->layout);
      break;
    case PROP_GRID_WIDTH:
      g_value_set_int (value, priv->grid.width);
      break;
    case PROP_GRID_HEIGHT:
      g_value_set_int (value, priv->grid.height);
      break;
    case PROP_GRID_FRAMERATE:
      gst_value_set_fraction (value, priv->grid.fps_n, priv->grid.fps_d);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static GstStateChangeReturn
gst_p2pcall_src_change_state (GstElement *element, GstStateChange transition)
{
  auto self = GST_P2PCALL_SRC (element);
  GstP2pcallSrcPrivate *priv = self->priv;

  // What every page sends at least: VP8 and Opus.
  const Codec *vp8 = find_codec ("VP8"), *opus = find_codec ("OPUS");
  if (transition == GST_STATE_CHANGE_NULL_TO_READY &&
      !check_factories (element, {"webrtcbin", "nicesrc", "decodebin",
              vp8->depayloader, vp8->decoder, opus->depayloader,
              opus->decoder, "proxysink", "proxysrc"}))
    return GST_STATE_CHANGE_FAILURE;
  if (transition == GST_STATE_CHANGE_NULL_TO_READY && !build_grid (self))
    return GST_STATE_CHANGE_FAILURE;
  if (transition == GST_STATE_CHANGE_NULL_TO_READY)
    prepare_dtls_certificate ();
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    SessionConfig config;
    {
      std::lock_guard<std::mutex> lock (priv->settings_lock);
      config = priv->config;
    }
    if (!check_connection_settings (element, config))
      return GST_STATE_CHANGE_FAILURE;
    if (!priv->slot->attach (element, config, gst_p2pcall_src_debug))
      return GST_STATE_CHANGE_FAILURE;
  }
  if (transition == GST_STATE_CHANGE_PAUSED_TO_PLAYING)
    priv->slot->playing (element);

  if (transition == GST_STATE_CHANGE_READY_TO_NULL)
    wait_dtls_certificate ();
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
      priv->slot->detach ();
      break;
    case GST_STATE_CHANGE_READY_TO_NULL:
      // Rebuilt at the next start, with the grid settings of then.
      clear_grid (self);
      break;
    default:
      break;
  }
  return ret;
}

// An EOS sent to the element (gst-launch -e, an application ending a
// recording) ends every output once what is queued has gone out: it goes in
// where each remote stream enters its decoder, and into the grid's
// backgrounds. Sent to webrtcbin's own sources it would stop at the network.
static gboolean
gst_p2pcall_src_send_event (GstElement *element, GstEvent *event)
{
  if (GST_EVENT_TYPE (event) != GST_EVENT_EOS)
    return GST_ELEMENT_CLASS (parent_class)->send_event (element, event);
  GstP2pcallSrcPrivate *priv = GST_P2PCALL_SRC (element)->priv;
  std::vector<GstPad *> inputs;
  {
    std::lock_guard<std::mutex> lock (priv->media_lock);
    for (SrcPeerMedia *media : priv->media) {
      std::lock_guard<std::mutex> media_lock (media->lock);
      media->closing = true;    // no new outputs after the end
      for (GstElement *decoder : media->decoders)
        inputs.push_back (gst_element_get_static_pad (decoder, "sink"));
    }
  }
  GST_INFO_OBJECT (element, "ending %zu remote stream(s)", inputs.size ());
  for (GstPad *pad : inputs) {
    gst_pad_send_event (pad, gst_event_ref (event));
    gst_object_unref (pad);
  }
  priv->mixer->send_eos ();
  if (!priv->mixer->built () && inputs.empty ())
    GST_ELEMENT_WARNING (element, STREAM, FAILED, (nullptr),
        ("EOS before any stream arrived: no output to end"));
  gst_event_unref (event);
  return TRUE;
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

  /**
   * GstP2pcallSrc:layout:
   *
   * `grid`: always pads `video` and `audio` with the whole call composited
   * and mixed. `separate`: one sometimes pad per remote stream.
   */
  g_object_class_install_property (gobject_class, PROP_LAYOUT,
      g_param_spec_enum ("layout", "Layout",
          "How remote streams come out: composited on two always pads, or "
          "one sometimes pad each", layout_get_type (), kDefaultLayout,
          (GParamFlags) (G_PARAM_READWRITE | GST_PARAM_MUTABLE_READY |
              G_PARAM_STATIC_STRINGS)));
  /**
   * GstP2pcallSrc:grid-width:
   *
   * Width in pixels of the grid picture (layout=grid).
   */
  g_object_class_install_property (gobject_class, PROP_GRID_WIDTH,
      g_param_spec_int ("grid-width", "Grid width",
          "Width of the grid picture in pixels (layout=grid)", 16, 7680,
          kDefaultGridWidth, (GParamFlags) (G_PARAM_READWRITE |
              GST_PARAM_MUTABLE_READY | G_PARAM_STATIC_STRINGS)));
  /**
   * GstP2pcallSrc:grid-height:
   *
   * Height in pixels of the grid picture (layout=grid).
   */
  g_object_class_install_property (gobject_class, PROP_GRID_HEIGHT,
      g_param_spec_int ("grid-height", "Grid height",
          "Height of the grid picture in pixels (layout=grid)", 16, 4320,
          kDefaultGridHeight, (GParamFlags) (G_PARAM_READWRITE |
              GST_PARAM_MUTABLE_READY | G_PARAM_STATIC_STRINGS)));
  /**
   * GstP2pcallSrc:grid-framerate:
   *
   * Frame rate of the grid picture (layout=grid).
   */
  g_object_class_install_property (gobject_class, PROP_GRID_FRAMERATE,
      gst_param_spec_fraction ("grid-framerate", "Grid frame rate",
          "Frame rate of the grid picture (layout=grid)", 1, 1, 120, 1,
          kDefaultGridFpsN, kDefaultGridFpsD, (GParamFlags) (G_PARAM_READWRITE
              | GST_PARAM_MUTABLE_READY | G_PARAM_STATIC_STRINGS)));

  gst_element_class_add_static_pad_template (element_class, &video_template);
  gst_element_class_add_static_pad_template (element_class, &audio_template);
  gst_element_class_add_static_pad_template (element_class,
      &grid_video_template);
  gst_element_class_add_static_pad_template (element_class,
      &grid_audio_template);
  gst_type_mark_as_plugin_api (layout_get_type (), (GstPluginAPIFlags) 0);
  gst_element_class_set_static_metadata (element_class, "p2pcall source",
      "Source/Network/WebRTC",
      "Receives the audio and video of every member of a p2pcall room",
      "p2pcall developers");
  element_class->change_state =
      GST_DEBUG_FUNCPTR (gst_p2pcall_src_change_state);
  element_class->send_event = GST_DEBUG_FUNCPTR (gst_p2pcall_src_send_event);

  GST_DEBUG_CATEGORY_INIT (gst_p2pcall_src_debug, "p2pcallsrc", 0,
      "p2pcall room source");
}

// p2pcall://HOST[:PORT]/ROOM?peer-name=NAME&token=TOKEN&layout=grid|separate
// and p2pcalls:// for TLS: the server is ws(s)://HOST:PORT/ws.

static GstURIType
gst_p2pcall_src_uri_get_type (GType)
{
  return GST_URI_SRC;
}

static const gchar *const *
gst_p2pcall_src_uri_get_protocols (GType)
{
  static const gchar *const protocols[] = {"p2pcall", "p2pcalls", nullptr};
  return protocols;
}

static gchar *
gst_p2pcall_src_uri_get_uri (GstURIHandler *handler)
{
  GstP2pcallSrcPrivate *priv = GST_P2PCALL_SRC (handler)->priv;
  std::lock_guard<std::mutex> lock (priv->settings_lock);
  g_autoptr (GUri) server = g_uri_parse (priv->config.server.c_str (),
      G_URI_FLAGS_NONE, nullptr);
  if (!server || priv->config.room.empty ())
    return nullptr;
  bool tls = g_strcmp0 (g_uri_get_scheme (server), "wss") == 0;
  g_autoptr (GString) query = g_string_new (nullptr);
  for (auto [key, value] : {
        std::pair {"peer-name", &priv->config.peer_name},
        std::pair {"token", &priv->config.token}}) {
    if (value->empty ())
      continue;
    g_autofree char *escaped = g_uri_escape_string (value->c_str (), nullptr,
        FALSE);
    g_string_append_printf (query, "%s%s=%s", query->len ? "&" : "", key,
        escaped);
  }
  g_autoptr (GUri) uri = g_uri_build (G_URI_FLAGS_NONE,
      tls ? "p2pcalls" : "p2pcall", nullptr, g_uri_get_host (server),
      g_uri_get_port (server), ("/" + priv->config.room).c_str (),
      query->len ? query->str : nullptr, nullptr);
  return g_uri_to_string (uri);
}

static gboolean
gst_p2pcall_src_uri_set_uri (GstURIHandler *handler, const gchar *text,
    GError **error)
{
  auto self = GST_P2PCALL_SRC (handler);
  GstP2pcallSrcPrivate *priv = self->priv;
  if (GST_STATE (self) > GST_STATE_READY) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_STATE,
        "p2pcallsrc: the URI can only change before the element starts");
    return FALSE;
  }
  g_autoptr (GError) parse_error = nullptr;
  g_autoptr (GUri) uri = g_uri_parse (text, G_URI_FLAGS_ENCODED_QUERY,
      &parse_error);
  const char *scheme = uri ? g_uri_get_scheme (uri) : nullptr;
  const char *host = uri ? g_uri_get_host (uri) : nullptr;
  if (!uri || !host || !*host
      || (g_ascii_strcasecmp (scheme, "p2pcall") != 0
          && g_ascii_strcasecmp (scheme, "p2pcalls") != 0)) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
        "\"%s\" is not a p2pcall URI: expected "
        "p2pcall://HOST:PORT/ROOM?peer-name=NAME&token=TOKEN%s%s", text,
        parse_error ? ": " : "", parse_error ? parse_error->message : "");
    return FALSE;
  }
  bool tls = g_ascii_strcasecmp (scheme, "p2pcalls") == 0;
  std::string room = g_uri_get_path (uri);
  if (!room.empty () && room[0] == '/')
    room.erase (0, 1);
  if (room.empty () || !protocol::is_valid_room_id (room)) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
        "%s: \"%s\" is not a room name (1-64 characters of A-Z a-z 0-9 _ . -)",
        text, room.c_str ());
    return FALSE;
  }
  int port = g_uri_get_port (uri);
  g_autofree char *host_part = strchr (host, ':') ?
      g_strdup_printf ("[%s]", host) : g_strdup (host);
  std::string server = std::string (tls ? "wss://" : "ws://") + host_part +
      ":" + std::to_string (port > 0 ? port : (int) kDefaultUriPort) + "/ws";

  std::string peer_name, token;
  std::optional<Layout> layout;
  if (const char *query = g_uri_get_query (uri)) {
    g_autoptr (GHashTable) params = g_uri_parse_params (query, -1, "&",
        G_URI_PARAMS_NONE, nullptr);
    if (!params) {
      g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
          "%s: the query is not KEY=VALUE&...", text);
      return FALSE;
    }
    GHashTableIter iter;
    gpointer key, value;
    g_hash_table_iter_init (&iter, params);
    while (g_hash_table_iter_next (&iter, &key, &value)) {
      if (g_str_equal (key, "peer-name"))
        peer_name = (const char *) value;
      else if (g_str_equal (key, "token"))
        token = (const char *) value;
      else if (g_str_equal (key, "layout")
          && g_str_equal (value, "separate"))
        layout = LAYOUT_SEPARATE;
      else if (g_str_equal (key, "layout") && g_str_equal (value, "grid"))
        layout = LAYOUT_GRID;
      else {
        g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
            "%s: unknown parameter %s=%s (known: peer-name, token, "
            "layout=grid|separate)", text, (const char *) key,
            (const char *) value);
        return FALSE;
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock (priv->settings_lock);
    priv->config.server = server;
    priv->config.room = room;
    priv->config.peer_name = peer_name;
    priv->config.token = token;
    // A player wants the whole call on one video and one audio pad.
    priv->layout = layout.value_or (LAYOUT_GRID);
  }
  update_grid_pads (self, layout.value_or (LAYOUT_GRID));
  g_object_notify (G_OBJECT (self), "layout");
  return TRUE;
}

static void
gst_p2pcall_src_uri_handler_init (gpointer g_iface, gpointer)
{
  auto iface = (GstURIHandlerInterface *) g_iface;
  iface->get_type = gst_p2pcall_src_uri_get_type;
  iface->get_protocols = gst_p2pcall_src_uri_get_protocols;
  iface->get_uri = gst_p2pcall_src_uri_get_uri;
  iface->set_uri = gst_p2pcall_src_uri_set_uri;
}
