#include "call_mixer.h"

#include <algorithm>
#include <cmath>

#define GST_CAT_DEFAULT category_

namespace p2pcall {

namespace {

// Time a decoded remote stream may arrive after its running time: the
// jitter buffer plus decoding. Members join after the mixers started, so
// their latency cannot be known from the first latency query.
constexpr guint kDecodeAllowanceMs = 100;

constexpr const char kAudioCaps[] =
    "audio/x-raw, format=S16LE, layout=interleaved, rate=48000, channels=2";

GstElement *
make (const char *factory, GError **error)
{
  const bool mixer = g_str_equal (factory, "compositor")
      || g_str_equal (factory, "audiomixer");
  // A mixer decides whether it is live from a latency query when it starts;
  // a member's stream plugged in later cannot change that, and without it
  // the mixer waits for data on every input. So it is live from the start.
  GstElement *e = mixer ? gst_element_factory_make_full (factory,
      "force-live", TRUE, nullptr) :
      gst_element_factory_make (factory, nullptr);
  if (!e)
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
        "the grid layout needs the GStreamer element '%s'", factory);
  return e;
}

}  // namespace

struct CallMixer::Input {
  bool video;
  std::vector<GstElement *> chain;      // upstream first; reffed
  GstPad *mixer_pad = nullptr;          // request pad; reffed
};

CallMixer::CallMixer (GstBin *bin, GstDebugCategory *category)
  : bin_ (bin), category_ (category)
{
}

CallMixer::~CallMixer ()
{
  std::vector<Input *> left;
  {
    std::lock_guard<std::mutex> lock (lock_);
    left.swap (inputs_);
  }
  for (Input *input : left) {
    for (GstElement *e : input->chain)
      gst_object_unref (e);
    gst_clear_object (&input->mixer_pad);
    delete input;
  }
}

bool
CallMixer::build (const GridSettings &settings, GError **error)
{
  if (built ())
    return true;
  settings_ = settings;

  GstElement *video_bg = make ("videotestsrc", error);
  GstElement *video_bg_caps = video_bg ? make ("capsfilter", error) : nullptr;
  GstElement *compositor = video_bg_caps ? make ("compositor", error) : nullptr;
  GstElement *video_caps = compositor ? make ("capsfilter", error) : nullptr;
  GstElement *audio_bg = video_caps ? make ("audiotestsrc", error) : nullptr;
  GstElement *audio_bg_caps = audio_bg ? make ("capsfilter", error) : nullptr;
  GstElement *audiomixer = audio_bg_caps ? make ("audiomixer", error) : nullptr;
  GstElement *audio_caps = audiomixer ? make ("capsfilter", error) : nullptr;
  std::vector<GstElement *> all = {video_bg, video_bg_caps, compositor,
    video_caps, audio_bg, audio_bg_caps, audiomixer, audio_caps};
  if (!audio_caps) {
    for (GstElement *e : all)
      if (e)
        gst_object_unref (gst_object_ref_sink (e));
    return false;
  }

  g_autoptr (GstCaps) vcaps = gst_caps_new_simple ("video/x-raw",
      "format", G_TYPE_STRING, "I420",
      "width", G_TYPE_INT, settings.width,
      "height", G_TYPE_INT, settings.height,
      "framerate", GST_TYPE_FRACTION, settings.fps_n, settings.fps_d,
      "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, nullptr);
  g_autoptr (GstCaps) acaps = gst_caps_from_string (kAudioCaps);
  guint64 upstream_latency =
      (guint64) (settings.latency_ms + kDecodeAllowanceMs) * GST_MSECOND;

  // Live backgrounds: the outputs run from PLAYING on, whoever is there.
  g_object_set (video_bg, "is-live", TRUE, nullptr);
  gst_util_set_object_arg (G_OBJECT (video_bg), "pattern", "black");
  g_object_set (video_bg_caps, "caps", vcaps, nullptr);
  g_object_set (compositor, "ignore-inactive-pads", TRUE,
      "min-upstream-latency", upstream_latency, nullptr);
  gst_util_set_object_arg (G_OBJECT (compositor), "background", "black");
  g_object_set (video_caps, "caps", vcaps, nullptr);
  g_object_set (audio_bg, "is-live", TRUE, "samplesperbuffer", 960, nullptr);
  gst_util_set_object_arg (G_OBJECT (audio_bg), "wave", "silence");
  g_object_set (audio_bg_caps, "caps", acaps, nullptr);
  g_object_set (audiomixer, "ignore-inactive-pads", TRUE,
      "min-upstream-latency", upstream_latency, nullptr);
  g_object_set (audio_caps, "caps", acaps, nullptr);

  for (GstElement *e : all)
    gst_bin_add (bin_, e);
  if (!gst_element_link_many (video_bg, video_bg_caps, compositor, video_caps,
          nullptr)
      || !gst_element_link_many (audio_bg, audio_bg_caps, audiomixer,
          audio_caps, nullptr)) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
        "could not link the grid's mixers");
    for (GstElement *e : all)
      gst_bin_remove (bin_, e);
    return false;
  }
  own_ = all;
  compositor_ = compositor;
  audiomixer_ = audiomixer;
  video_out_ = gst_element_get_static_pad (video_caps, "src");
  audio_out_ = gst_element_get_static_pad (audio_caps, "src");
  // The bin keeps the pads alive as long as the capsfilters.
  gst_object_unref (video_out_);
  gst_object_unref (audio_out_);
  return true;
}

void
CallMixer::clear ()
{
  for (GstElement *e : own_)
    gst_bin_remove (bin_, e);
  own_.clear ();
  compositor_ = audiomixer_ = nullptr;
  video_out_ = audio_out_ = nullptr;
}

CallMixer::Input *
CallMixer::add_input (GstPad *decoded, bool video)
{
  if (!built ())
    return nullptr;
  auto input = new Input ();
  input->video = video;
  const std::vector<const char *> factories = video ?
      std::vector<const char *> {"queue"} :
      std::vector<const char *> {"audioconvert", "audioresample", "queue"};
  for (const char *factory : factories) {
    GstElement *e = gst_element_factory_make (factory, nullptr);
    if (!e) {
      GST_WARNING_OBJECT (bin_, "no %s: a remote stream is left out", factory);
      for (GstElement *made : input->chain)
        gst_object_unref (made);
      delete input;
      return nullptr;
    }
    input->chain.push_back (GST_ELEMENT (gst_object_ref_sink (e)));
  }
  GstElement *mixer = video ? compositor_ : audiomixer_;
  input->mixer_pad = gst_element_request_pad_simple (mixer, "sink_%u");
  if (video)
    gst_util_set_object_arg (G_OBJECT (input->mixer_pad), "sizing-policy",
        "keep-aspect-ratio");

  for (GstElement *e : input->chain)
    gst_bin_add (bin_, e);
  bool linked = true;
  for (size_t i = 0; i + 1 < input->chain.size (); i++)
    linked &= gst_element_link (input->chain[i], input->chain[i + 1]);
  g_autoptr (GstPad) last = gst_element_get_static_pad (input->chain.back (),
      "src");
  g_autoptr (GstPad) first = gst_element_get_static_pad (input->chain.front (),
      "sink");
  linked &= gst_pad_link (last, input->mixer_pad) == GST_PAD_LINK_OK;
  for (GstElement *e : input->chain)
    gst_element_sync_state_with_parent (e);
  linked &= gst_pad_link (decoded, first) == GST_PAD_LINK_OK;
  {
    std::lock_guard<std::mutex> lock (lock_);
    inputs_.push_back (input);
  }
  if (!linked) {
    GST_WARNING_OBJECT (bin_, "could not mix %" GST_PTR_FORMAT, decoded);
    remove_input (input);
    return nullptr;
  }
  if (video)
    relayout ();
  return input;
}

void
CallMixer::remove_input (Input *input)
{
  {
    std::lock_guard<std::mutex> lock (lock_);
    auto it = std::find (inputs_.begin (), inputs_.end (), input);
    if (it == inputs_.end ())
      return;
    inputs_.erase (it);
  }
  for (GstElement *e : input->chain) {
    gst_element_set_locked_state (e, TRUE);
    gst_element_set_state (e, GST_STATE_NULL);
    gst_bin_remove (bin_, e);
    gst_object_unref (e);
  }
  if (GstElement *mixer = input->video ? compositor_ : audiomixer_)
    gst_element_release_request_pad (mixer, input->mixer_pad);
  gst_clear_object (&input->mixer_pad);
  bool video = input->video;
  delete input;
  if (video)
    relayout ();
}

// Ends both outputs at their next buffer. The mixers themselves never end
// here: a live videoaggregator keeps producing frames after every input has
// ended, so the end is put on their outputs, in their streaming threads.
void
CallMixer::send_eos ()
{
  if (!built ())
    return;
  for (GstPad *out : {video_out_, audio_out_})
    gst_pad_add_probe (out, (GstPadProbeType) (GST_PAD_PROBE_TYPE_BUFFER |
            GST_PAD_PROBE_TYPE_BUFFER_LIST),
        +[] (GstPad * pad, GstPadProbeInfo *, gpointer) {
          if (!GST_PAD_IS_EOS (pad))
            gst_pad_push_event (pad, gst_event_new_eos ());
          return GST_PAD_PROBE_DROP;
        }, nullptr, nullptr);
}

// Tiles in rows of ceil(sqrt(n)), the last row centred, each picture scaled
// to fit its tile with its aspect ratio kept.
void
CallMixer::relayout ()
{
  std::vector<GstPad *> pads;
  {
    std::lock_guard<std::mutex> lock (lock_);
    for (Input *input : inputs_)
      if (input->video)
        pads.push_back (GST_PAD (gst_object_ref (input->mixer_pad)));
  }
  const int n = (int) pads.size ();
  if (n > 0) {
    const int cols = (int) std::ceil (std::sqrt ((double) n));
    const int rows = (n + cols - 1) / cols;
    const int tile_w = settings_.width / cols;
    const int tile_h = settings_.height / rows;
    for (int i = 0; i < n; i++) {
      const int row = i / cols;
      const int in_row = std::min (cols, n - row * cols);
      const int left = (settings_.width - in_row * tile_w) / 2;
      g_object_set (pads[i], "xpos", left + (i % cols) * tile_w,
          "ypos", row * tile_h, "width", tile_w, "height", tile_h,
          "zorder", (guint) (i + 1), nullptr);
    }
  }
  GST_INFO_OBJECT (bin_, "grid of %d picture(s)", n);
  for (GstPad *pad : pads)
    gst_object_unref (pad);
}

}  // namespace p2pcall
