#include "encoding_ladder.h"

#include "webrtc_stats.h"

#include <gst/video/video.h>
#include <gst/webrtc/webrtc.h>

#include <algorithm>
#include <chrono>
#include <cmath>

GST_DEBUG_CATEGORY_STATIC (ladder_debug);
#define GST_CAT_DEFAULT ladder_debug

namespace p2pcall {

namespace {

void
init_debug ()
{
  static gsize done = 0;
  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (ladder_debug, "p2pcallladder", 0,
        "p2pcallsink encoding ladder and congestion control");
    g_once_init_leave (&done, 1);
  }
}

// Layers nobody used for this many periods stop (a peer moving back soon
// does not pay for an encoder restart).
constexpr int kIdlePeriodsBeforeStop = 3;
// The control period.
constexpr auto kPeriod = std::chrono::milliseconds (1000);
// What a peer's audio takes from its estimate, packets included.
constexpr double kAudioAllowance = 64000;
// Packet headers (RTP, SRTP, UDP, IP, TURN) not counted in bytes-sent.
constexpr double kHeaderBytes = 50;
// Of a video budget, what the encoder is asked for: the rest is headers and
// key frames above the average.
constexpr double kEncoderShare = 0.75;
// Encoder bitrate changes smaller than this are not applied.
constexpr double kBitrateStep = 0.05;

GstElement *
make (const char *factory)
{
  return gst_element_factory_make (factory, nullptr);
}

void
set_encoder_bitrate (GstElement *encoder, guint kbps)
{
  if (!encoder)
    return;
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (encoder),
          "target-bitrate"))
    g_object_set (encoder, "target-bitrate", (int) (kbps * 1000), nullptr);
  else if (g_object_class_find_property (G_OBJECT_GET_CLASS (encoder),
          "bitrate"))
    g_object_set (encoder, "bitrate", kbps, nullptr);
}

GstElement *
find_encoder (const std::vector<GstElement *> &chain)
{
  for (GstElement *e : chain) {
    GstElementFactory *f = gst_element_get_factory (e);
    if (f && gst_element_factory_list_is_type (f,
            GST_ELEMENT_FACTORY_TYPE_ENCODER))
      return e;
  }
  return nullptr;
}

// Key frame requests (receivers' PLI/FIR, switches) reach one layer's
// encoder at most once per this interval: a lossy receiver asking again and
// again would otherwise make every frame a key frame for every peer of that
// layer. A request that comes sooner is not dropped but held, and made once
// the interval is over (with the first frame after it): a receiver whose
// picture broke just after another one's key frame would otherwise wait
// for its own next request, a second or more of frozen picture.
constexpr gint64 kMinKeyUnitIntervalUs = 500 * G_TIME_SPAN_MILLISECOND;

struct KeyUnitThrottle {
  std::atomic<gint64> last {0};
  std::atomic<bool> held {false};
};

GstPadProbeReturn
throttle_key_units (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  if (!gst_video_event_is_force_key_unit (event))
    return GST_PAD_PROBE_OK;
  auto throttle = static_cast<KeyUnitThrottle *> (data);
  gint64 now = g_get_monotonic_time ();
  gint64 before = throttle->last.load ();
  if (before && now - before < kMinKeyUnitIntervalUs) {
    throttle->held = true;
    return GST_PAD_PROBE_DROP;
  }
  throttle->last = now;
  throttle->held = false;
  return GST_PAD_PROBE_OK;
}

GstEvent *key_unit_request ();

// On the frames the layer's encoder makes: a held request goes up once the
// interval is over.
GstPadProbeReturn
release_held_key_unit (GstPad *pad, GstPadProbeInfo *, gpointer data)
{
  auto throttle = static_cast<KeyUnitThrottle *> (data);
  if (throttle->held.load () && g_get_monotonic_time () -
      throttle->last.load () >= kMinKeyUnitIntervalUs &&
      throttle->held.exchange (false))
    gst_pad_push_event (pad, key_unit_request ());
  return GST_PAD_PROBE_OK;
}

GstEvent *
key_unit_request ()
{
  return gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE,
      TRUE, 0);
}

}  // namespace

// ---------------------------------------------------------------------------
// EncodingLadder

// The switch state of one peer, read by the probes on its links from the
// layers' streaming threads.
struct EncodingLadder::Gate {
  std::atomic<int> current {-1};
  std::atomic<int> pending {-1};
};

struct EncodingLadder::Link {
  int layer;
  GstPad *tee_pad;              // requested from the layer's tee
  GstPad *funnel_pad;           // requested from the peer's funnel
  gulong probe;
};

struct EncodingLadder::Layer {
  int index;
  LayerSpec spec;
  std::vector<GstElement *> elements;   // queue ... encoder ... tee
  GstElement *encoder = nullptr;
  GstElement *tee = nullptr;
  GstPad *raw_pad = nullptr;            // requested from the raw tee
  guint kbps = 0;
  int idle_periods = 0;
  KeyUnitThrottle key_units;   // throttle_key_units()
  bool running () const { return raw_pad != nullptr; }
};

struct EncodingLadder::Peer {
  GstElement *funnel;
  std::shared_ptr<Gate> gate = std::make_shared<Gate> ();
  std::vector<Link> links;
};

namespace {

struct GateProbe {
  std::shared_ptr<void> gate_owner;
  std::atomic<int> *current, *pending;
  int layer;
};

// Lets the peer's current layer through; the pending one becomes current at
// its first key frame. Runs on the layer's streaming thread.
GstPadProbeReturn
gate_buffer (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto probe = static_cast<GateProbe *> (data);
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  int pending = probe->pending->load ();
  if (pending == probe->layer &&
      !GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DELTA_UNIT)) {
    probe->current->store (probe->layer);
    probe->pending->compare_exchange_strong (pending, -1);
    return GST_PAD_PROBE_OK;
  }
  return probe->current->load () == probe->layer ? GST_PAD_PROBE_OK :
      GST_PAD_PROBE_DROP;
}

}  // namespace

EncodingLadder::EncodingLadder (GstBin *bin, GstElement *raw_tee, int width,
    int height, const AdaptiveSettings &settings, EncoderFactory factory)
  : bin_ (bin), raw_tee_ (GST_ELEMENT (gst_object_ref (raw_tee))),
    specs_ (make_ladder (width, height, settings.max_layers,
            settings.min_kbps * 1000.0, settings.max_kbps * 1000.0)),
    min_kbps_ (settings.min_kbps), factory_ (std::move (factory))
{
  init_debug ();
  for (size_t i = 0; i < specs_.size (); i++) {
    auto layer = std::make_unique<Layer> ();
    layer->index = (int) i;
    layer->spec = specs_[i];
    GST_INFO_OBJECT (bin_, "layer %zu: %dx%d, %.0f-%.0f kbit/s", i,
        specs_[i].width, specs_[i].height, specs_[i].min_bps / 1000,
        specs_[i].max_bps / 1000);
    layers_.push_back (std::move (layer));
  }
}

EncodingLadder::~EncodingLadder ()
{
  std::lock_guard<std::mutex> lock (lock_);
  for (auto &[key, peer] : peers_) {
    for (Link &link : peer->links)
      unlink (link);
    gst_object_unref (peer->funnel);
  }
  peers_.clear ();
  for (auto &layer : layers_)
    if (layer->running ())
      stop_layer (*layer);
  gst_object_unref (raw_tee_);
}

void
EncodingLadder::start_layer (Layer &layer)
{
  const LayerSpec &spec = layer.spec;
  layer.kbps = std::max<guint> (min_kbps_, (guint) (spec.max_bps / 1000 / 2));
  std::vector<GstElement *> encode = factory_ (layer.kbps);
  GstElement *queue = make ("queue");
  // A layer whose encoder falls behind drops frames, and never holds up the
  // raw tee (the other layers).
  gst_util_set_object_arg (G_OBJECT (queue), "leaky", "downstream");
  g_object_set (queue, "max-size-buffers", 2, "max-size-bytes", 0,
      "max-size-time", (guint64) 0, nullptr);
  GstElement *scale = make ("videoscale");
  GstElement *size = make ("capsfilter");
  g_autoptr (GstCaps) caps = gst_caps_new_simple ("video/x-raw",
      "width", G_TYPE_INT, spec.width, "height", G_TYPE_INT, spec.height,
      "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, nullptr);
  g_object_set (size, "caps", caps, nullptr);
  layer.tee = make ("tee");
  g_object_set (layer.tee, "allow-not-linked", TRUE, nullptr);

  // Throttled where every request for this layer passes: its tee's sink.
  g_autoptr (GstPad) tee_sink = gst_element_get_static_pad (layer.tee, "sink");
  layer.key_units.last = 0;
  layer.key_units.held = false;
  gst_pad_add_probe (tee_sink, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM,
      throttle_key_units, &layer.key_units, nullptr);
  gst_pad_add_probe (tee_sink, GST_PAD_PROBE_TYPE_BUFFER,
      release_held_key_unit, &layer.key_units, nullptr);
  layer.elements = {queue, scale, size};
  layer.elements.insert (layer.elements.end (), encode.begin (), encode.end ());
  layer.elements.push_back (layer.tee);
  layer.encoder = find_encoder (encode);
  // Key frames at most three average frames (libvpx): a full-size key frame
  // would take a narrow link's budget for a good part of a second.
  if (layer.encoder && g_object_class_find_property (
          G_OBJECT_GET_CLASS (layer.encoder), "max-intra-bitrate"))
    g_object_set (layer.encoder, "max-intra-bitrate", 300, nullptr);
  GstElement *prev = nullptr;
  for (GstElement *e : layer.elements) {
    gst_object_ref (e);
    gst_bin_add (bin_, e);
    if (prev)
      gst_element_link (prev, e);
    prev = e;
  }
  for (auto it = layer.elements.rbegin (); it != layer.elements.rend (); ++it)
    gst_element_sync_state_with_parent (*it);
  layer.raw_pad = gst_element_request_pad_simple (raw_tee_, "src_%u");
  g_autoptr (GstPad) queue_sink = gst_element_get_static_pad (queue, "sink");
  gst_pad_link (layer.raw_pad, queue_sink);
  layer.idle_periods = 0;
  GST_INFO_OBJECT (bin_, "layer %d (%dx%d) started at %u kbit/s",
      layer.index, spec.width, spec.height, layer.kbps);
}

void
EncodingLadder::stop_layer (Layer &layer)
{
  // Cut from the raw tee first: nothing flows in while it stops.
  gst_element_release_request_pad (raw_tee_, layer.raw_pad);
  gst_clear_object (&layer.raw_pad);
  for (GstElement *e : layer.elements) {
    gst_element_set_locked_state (e, TRUE);
    gst_element_set_state (e, GST_STATE_NULL);
    if (GST_OBJECT_PARENT (e) == GST_OBJECT (bin_))
      gst_bin_remove (bin_, e);
    gst_object_unref (e);
  }
  layer.elements.clear ();
  layer.encoder = nullptr;
  layer.tee = nullptr;
  GST_INFO_OBJECT (bin_, "layer %d stopped", layer.index);
}

void
EncodingLadder::link_peer (Peer &peer, int index)
{
  for (const Link &link : peer.links)
    if (link.layer == index)
      return;
  Layer &layer = *layers_[index];
  if (!layer.running ())
    start_layer (layer);
  layer.idle_periods = 0;
  Link link;
  link.layer = index;
  link.tee_pad = gst_element_request_pad_simple (layer.tee, "src_%u");
  link.funnel_pad = gst_element_request_pad_simple (peer.funnel, "sink_%u");
  auto probe = new GateProbe {peer.gate, &peer.gate->current,
    &peer.gate->pending, index};
  link.probe = gst_pad_add_probe (link.tee_pad, GST_PAD_PROBE_TYPE_BUFFER,
      gate_buffer, probe, [] (gpointer data) {
        delete static_cast<GateProbe *> (data);
      });
  gst_pad_link (link.tee_pad, link.funnel_pad);
  peer.links.push_back (link);
}

void
EncodingLadder::unlink (Link &link)
{
  Layer &layer = *layers_[link.layer];
  gst_pad_remove_probe (link.tee_pad, link.probe);
  gst_pad_unlink (link.tee_pad, link.funnel_pad);
  if (layer.tee)
    gst_element_release_request_pad (layer.tee, link.tee_pad);
  GstElement *funnel = GST_ELEMENT (gst_pad_get_parent (link.funnel_pad));
  if (funnel) {
    gst_element_release_request_pad (funnel, link.funnel_pad);
    gst_object_unref (funnel);
  }
  gst_clear_object (&link.tee_pad);
  gst_clear_object (&link.funnel_pad);
}

GstElement *
EncodingLadder::connect_peer (const void *key, int layer)
{
  std::lock_guard<std::mutex> lock (lock_);
  auto peer = std::make_unique<Peer> ();
  peer->funnel = GST_ELEMENT (gst_object_ref (make ("funnel")));
  gst_bin_add (bin_, peer->funnel);
  gst_element_sync_state_with_parent (peer->funnel);
  layer = std::clamp (layer, 0, (int) layers_.size () - 1);
  peer->gate->pending = layer;
  link_peer (*peer, layer);
  gst_pad_send_event (peer->links.back ().tee_pad, key_unit_request ());
  GstElement *funnel = peer->funnel;
  peers_[key] = std::move (peer);
  return funnel;
}

void
EncodingLadder::disconnect_peer (const void *key)
{
  std::lock_guard<std::mutex> lock (lock_);
  auto it = peers_.find (key);
  if (it == peers_.end ())
    return;
  for (Link &link : it->second->links)
    unlink (link);
  gst_object_unref (it->second->funnel);
  peers_.erase (it);
}

void
EncodingLadder::switch_peer (const void *key, int index)
{
  std::lock_guard<std::mutex> lock (lock_);
  auto it = peers_.find (key);
  if (it == peers_.end () || index < 0 || index >= (int) layers_.size ())
    return;
  Peer &peer = *it->second;
  int current = peer.gate->current.load ();
  int pending = peer.gate->pending.load ();
  if (index == (pending >= 0 ? pending : current))
    return;
  GST_INFO_OBJECT (bin_, "peer %p: layer %d -> %d", key, current, index);
  if (index == current) {
    peer.gate->pending = -1;        // back before the switch happened
    return;
  }
  link_peer (peer, index);
  peer.gate->pending = index;
  for (Link &link : peer.links)
    if (link.layer == index)
      gst_pad_send_event (link.tee_pad, key_unit_request ());
}

int
EncodingLadder::peer_layer (const void *key)
{
  std::lock_guard<std::mutex> lock (lock_);
  auto it = peers_.find (key);
  return it == peers_.end () ? -1 : it->second->gate->current.load ();
}

void
EncodingLadder::force_key_unit (const void *key)
{
  std::lock_guard<std::mutex> lock (lock_);
  auto it = peers_.find (key);
  if (it == peers_.end ())
    return;
  for (Link &link : it->second->links)
    gst_pad_send_event (link.tee_pad, key_unit_request ());
}

void
EncodingLadder::update (const std::map<const void *, double> &budgets)
{
  std::lock_guard<std::mutex> lock (lock_);
  std::vector<double> layer_budget (layers_.size (), -1);
  for (auto &[key, peer] : peers_) {
    int current = peer->gate->current.load ();
    int pending = peer->gate->pending.load ();
    // Links to layers the peer left are cut.
    for (auto it = peer->links.begin (); it != peer->links.end ();) {
      if (it->layer != current && it->layer != pending) {
        unlink (*it);
        it = peer->links.erase (it);
      } else {
        ++it;
      }
    }
    // A peer counts for the layer it is going to only: one leaving a
    // layer does not drag that layer's other peers down meanwhile.
    auto b = budgets.find (key);
    int target = pending >= 0 ? pending : current;
    if (b == budgets.end () || target < 0)
      continue;
    double &lb = layer_budget[target];
    lb = lb < 0 ? b->second : std::min (lb, b->second);
  }
  for (auto &layer : layers_) {
    if (!layer->running ())
      continue;
    bool used = false;
    for (auto &[key, peer] : peers_)
      for (const Link &link : peer->links)
        used |= link.layer == layer->index;
    if (!used) {
      if (++layer->idle_periods >= kIdlePeriodsBeforeStop)
        stop_layer (*layer);
      continue;
    }
    layer->idle_periods = 0;
    double budget = layer_budget[layer->index];
    if (budget < 0)
      continue;
    // The weakest peer on a layer sets its bitrate, within the layer's.
    guint kbps = (guint) std::clamp (budget * kEncoderShare / 1000,
        (double) min_kbps_, layer->spec.max_bps / 1000);
    if (std::fabs ((double) kbps - layer->kbps) > kBitrateStep * layer->kbps) {
      GST_DEBUG_OBJECT (bin_, "layer %d: %u -> %u kbit/s", layer->index,
          layer->kbps, kbps);
      layer->kbps = kbps;
      set_encoder_bitrate (layer->encoder, kbps);
    }
  }
}

int
EncodingLadder::running_layers ()
{
  std::lock_guard<std::mutex> lock (lock_);
  int n = 0;
  for (auto &layer : layers_)
    n += layer->running ();
  return n;
}

// ---------------------------------------------------------------------------
// AdaptiveController

struct AdaptiveController::PeerControl {
  PeerControl (GstElement *wb, const std::string &l, bool a,
      const AdaptiveSettings &s)
    : webrtcbin (GST_ELEMENT (gst_object_ref (wb))), label (l), audio (a),
      estimator (s.min_kbps * 1000.0, s.max_kbps * 1000.0,
          s.start_kbps * 1000.0)
  {
  }
  ~PeerControl () { gst_object_unref (webrtcbin); }

  GstElement *webrtcbin;
  std::string label;
  bool audio;
  BandwidthEstimator estimator;
  std::map<EncodingLadder *, LayerChooser> choosers;
  UpProbe probe;                // on the first ladder's layers
  // The previous reading, for rates and fresh receiver reports.
  guint64 bytes = 0, packets = 0;
  gint64 time_us = 0;
  ReportLoss report_loss;
  PeerRateReport report;
};

namespace {

// What one get-stats reply says about what we send to a peer.
struct SendStats {
  guint64 bytes = 0, packets = 0;
  gint64 packets_lost = 0;
  double fraction_lost = 0, rtt = -1;
  bool have_report = false;
};

SendStats
read_send_stats (GstElement *webrtcbin)
{
  SendStats out;
  GstStructure *reply = read_webrtc_stats (webrtcbin, G_USEC_PER_SEC);
  for_each_webrtc_stats (reply, [&out] (GstWebRTCStatsType type,
          const GstStructure * st) {
        guint64 u;
        gint64 lost;
        double d;
        if (type == GST_WEBRTC_STATS_OUTBOUND_RTP) {
          if (gst_structure_get_uint64 (st, "bytes-sent", &u))
            out.bytes += u;
          if (gst_structure_get_uint64 (st, "packets-sent", &u))
            out.packets += u;
        } else if (type == GST_WEBRTC_STATS_REMOTE_INBOUND_RTP) {
          out.have_report = true;
          if (gst_structure_get_int64 (st, "packets-lost", &lost))
            out.packets_lost += lost;
          if (gst_structure_get_double (st, "fraction-lost", &d))
            out.fraction_lost = std::max (out.fraction_lost, d);
          if (gst_structure_get_double (st, "round-trip-time", &d))
            out.rtt = std::max (out.rtt, d);
        }
      });
  if (reply)
    gst_structure_free (reply);
  return out;
}

// Transport-wide congestion control statistics of the peer's (bundled)
// RTP session, when the peer sends that feedback.
struct TwccStats {
  bool valid = false;
  double loss = -1, received_bps = -1, delay_trend_ms = -1;
};

// webrtcbin's rtpbin, reffed, or nullptr.
GstElement *
find_rtpbin (GstElement *webrtcbin)
{
  GstElement *found = nullptr;
  g_autoptr (GstIterator) it = gst_bin_iterate_elements (GST_BIN (webrtcbin));
  GValue item = G_VALUE_INIT;
  while (!found && gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstElement *e = GST_ELEMENT (g_value_get_object (&item));
    GstElementFactory *f = gst_element_get_factory (e);
    if (f && g_str_equal (GST_OBJECT_NAME (f), "rtpbin"))
      found = GST_ELEMENT (gst_object_ref (e));
    g_value_reset (&item);
  }
  g_value_unset (&item);
  return found;
}

TwccStats
read_twcc_stats (GstElement *webrtcbin)
{
  TwccStats out;
  g_autoptr (GstElement) rtpbin = find_rtpbin (webrtcbin);
  if (!rtpbin)
    return out;
  GstElement *session = nullptr;
  g_signal_emit_by_name (rtpbin, "get-session", 0u, &session);
  if (!session)
    return out;
  GstStructure *s = nullptr;
  g_object_get (session, "twcc-stats", &s, nullptr);
  GST_LOG ("session %" GST_PTR_FORMAT " twcc %p", session, s);
  gst_object_unref (session);
  if (!s)
    return out;
  GST_LOG ("%" GST_PTR_FORMAT, s);
  guint packets_recv = 0;
  double d;
  guint bitrate = 0;
  gint64 dod = 0;
  if (gst_structure_get_uint (s, "packets-recv", &packets_recv) &&
      packets_recv > 0) {
    out.valid = true;
    if (gst_structure_get_double (s, "packet-loss-pct", &d))
      out.loss = d / 100;
    if (gst_structure_get_uint (s, "bitrate-recv", &bitrate))
      out.received_bps = bitrate;
    if (gst_structure_get_int64 (s, "avg-delta-of-delta", &dod))
      out.delay_trend_ms = dod / 1e6;
  }
  gst_structure_free (s);
  return out;
}

}  // namespace

AdaptiveController::AdaptiveController (GstElement *element)
  : element_ (element)
{
  init_debug ();
}

AdaptiveController::~AdaptiveController ()
{
  stop ();
}

void
AdaptiveController::set_settings (const AdaptiveSettings &settings)
{
  std::lock_guard<std::mutex> lock (lock_);
  settings_ = settings;
}

void
AdaptiveController::add_ladder (std::shared_ptr<EncodingLadder> ladder)
{
  std::lock_guard<std::mutex> lock (lock_);
  ladders_.push_back (std::move (ladder));
}

int
AdaptiveController::start_layer (const EncodingLadder &ladder)
{
  std::lock_guard<std::mutex> lock (lock_);
  size_t n = std::max<size_t> (ladders_.size (), 1);
  return fitting_layer (ladder.specs (),
      settings_.start_kbps * 1000.0 / n);
}

void
AdaptiveController::add_peer (GstElement *webrtcbin, const std::string &label,
    bool audio)
{
  std::lock_guard<std::mutex> lock (lock_);
  auto peer = std::make_unique<PeerControl> (webrtcbin, label, audio,
      settings_);
  for (auto &ladder : ladders_)
    peer->choosers.emplace (ladder.get (),
        LayerChooser (fitting_layer (ladder->specs (),
                settings_.start_kbps * 1000.0 / ladders_.size ())));
  peer->report.label = label;
  peers_[webrtcbin] = std::move (peer);
  if (!running_) {
    if (thread_.joinable ())
      thread_.join ();
    running_ = true;
    thread_ = std::thread (&AdaptiveController::run, this);
  }
}

void
AdaptiveController::remove_peer (GstElement *webrtcbin)
{
  std::lock_guard<std::mutex> lock (lock_);
  peers_.erase (webrtcbin);
}

std::vector<PeerRateReport>
AdaptiveController::reports ()
{
  std::lock_guard<std::mutex> lock (lock_);
  std::vector<PeerRateReport> out;
  for (auto &[wb, peer] : peers_)
    out.push_back (peer->report);
  return out;
}

void
AdaptiveController::stop ()
{
  {
    std::lock_guard<std::mutex> lock (lock_);
    running_ = false;
  }
  wake_.notify_all ();
  if (thread_.joinable () && thread_.get_id () != std::this_thread::get_id ())
    thread_.join ();
}

void
AdaptiveController::run ()
{
  std::unique_lock<std::mutex> lock (lock_);
  while (running_) {
    wake_.wait_for (lock, kPeriod);
    if (!running_)
      break;
    lock.unlock ();
    tick ();
    lock.lock ();
  }
}

void
AdaptiveController::tick ()
{
  std::vector<std::pair<GstElement *, GstElement *>> webrtcbins;
  std::vector<std::shared_ptr<EncodingLadder>> ladders;
  {
    std::lock_guard<std::mutex> lock (lock_);
    for (auto &[key, peer] : peers_)
      webrtcbins.push_back ({key,
            GST_ELEMENT (gst_object_ref (peer->webrtcbin))});
    ladders = ladders_;
  }

  // Readings first, without the lock: they wait for each webrtcbin.
  std::vector<std::pair<SendStats, TwccStats>> readings;
  for (auto &[key, wb] : webrtcbins)
    readings.push_back ({read_send_stats (wb), read_twcc_stats (wb)});
  gint64 now = g_get_monotonic_time ();

  // Decisions, per peer: estimate, layer per ladder, budget.
  std::map<EncodingLadder *, std::map<const void *, double>> budgets;
  std::map<EncodingLadder *, std::map<const void *, int>> layers;
  std::vector<GstStructure *> messages;
  {
    std::lock_guard<std::mutex> lock (lock_);
    for (size_t i = 0; i < webrtcbins.size (); i++) {
      auto it = peers_.find (webrtcbins[i].first);
      if (it == peers_.end ())
        continue;
      PeerControl &peer = *it->second;
      const SendStats &send = readings[i].first;
      const TwccStats &twcc = readings[i].second;
      peer.estimator.set_bounds (settings_.min_kbps * 1000.0,
          settings_.max_kbps * 1000.0);

      LinkFeedback f;
      if (peer.time_us) {
        f.interval_s = (now - peer.time_us) / 1e6;
        if (send.bytes >= peer.bytes && send.packets >= peer.packets &&
            f.interval_s > 0)
          f.sent_bps = ((send.bytes - peer.bytes) +
              kHeaderBytes * (send.packets - peer.packets)) * 8 /
              f.interval_s;
      }
      peer.bytes = send.bytes;
      peer.packets = send.packets;
      peer.time_us = now;
      if (f.sent_bps < 0)
        continue;       // the first reading: rates need two
      f.rtt_s = send.rtt;
      // Receiver reports come every second or more often (browsers) to
      // every few (webrtcbin): see ReportLoss. Transport-wide CC feedback,
      // when the peer sends it, adds its own (shorter) view of the loss and
      // the delay trend. Its received rate is left out: behind a relay that
      // drops what exceeds its budget each second, packets arrive in bursts
      // at line rate and that rate says nothing of the budget.
      f.loss = 0;
      if (send.have_report)
        f.loss = peer.report_loss.update (send.packets_lost, send.rtt,
            send.fraction_lost, send.packets);
      if (twcc.valid) {
        // Fresh every period: a stale report adds nothing to it.
        if (!peer.report_loss.fresh ())
          f.loss = 0;
        f.loss = std::max (f.loss, twcc.loss);
        f.delay_trend_ms = twcc.delay_trend_ms;
      }
      double estimate = peer.estimator.update (f);
      double audio = peer.audio ? kAudioAllowance : 0;
      size_t n_ladders = std::max<size_t> (ladders.size (), 1);
      auto first = ladders.empty () ? peer.choosers.end () :
          peer.choosers.find (ladders[0].get ());
      // Trials only with transport-wide feedback: it tells within a second
      // when one fails; receiver reports every few seconds would leave a
      // narrow link overrun (and the picture broken) that long.
      if (first != peer.choosers.end () && twcc.valid) {
        double video = peer.probe.update (ladders[0]->specs (),
            first->second.layer (), estimate, f);
        if (video > 0) {
          // Every ladder gets an equal share of the estimate.
          GST_INFO_OBJECT (element_, "peer %s: trying %.0f kbit/s of video",
              peer.label.c_str (), video / 1000);
          estimate = peer.estimator.probe (video * n_ladders + audio);
        }
      }

      double video = std::max (0.0, estimate - audio);
      double per_ladder = video / n_ladders;
      int report_layer = -1;
      for (auto &ladder : ladders) {
        auto c = peer.choosers.find (ladder.get ());
        if (c == peer.choosers.end ())
          continue;
        int layer = c->second.update (ladder->specs (), per_ladder);
        budgets[ladder.get ()][peer.webrtcbin] = per_ladder;
        layers[ladder.get ()][peer.webrtcbin] = layer;
        if (report_layer < 0) {
          report_layer = layer;
          peer.report.width = ladder->specs ()[layer].width;
          peer.report.height = ladder->specs ()[layer].height;
        }
      }
      peer.report.estimate_bps = estimate;
      peer.report.layer = report_layer;
      peer.report.sent_bps = f.sent_bps;
      peer.report.loss = std::max (f.loss, 0.0);
      peer.report.rtt_s = f.rtt_s;
      peer.report.twcc = twcc.valid;
      GST_DEBUG_OBJECT (element_, "peer %s: sent %.0f kbit/s, loss %.3f, "
          "recv %.0f, rtt %.3f, trend %.2f ms -> estimate %.0f kbit/s, "
          "layer %d", peer.label.c_str (), f.sent_bps / 1000, f.loss,
          f.received_bps / 1000, f.rtt_s, f.delay_trend_ms, estimate / 1000,
          report_layer);
      messages.push_back (gst_structure_new ("p2pcall-peer-bitrate",
              "peer-id", G_TYPE_STRING, peer.label.c_str (),
              "estimate", G_TYPE_UINT64, (guint64) estimate,
              "layer", G_TYPE_INT, report_layer,
              "width", G_TYPE_INT, peer.report.width,
              "height", G_TYPE_INT, peer.report.height,
              "bitrate-sent", G_TYPE_UINT64, (guint64) f.sent_bps,
              "fraction-lost", G_TYPE_DOUBLE, peer.report.loss,
              "round-trip-time", G_TYPE_DOUBLE, f.rtt_s,
              "transport-cc", G_TYPE_BOOLEAN, twcc.valid, nullptr));
    }
  }

  // Acting on the ladders, outside the lock.
  for (auto &ladder : ladders) {
    for (auto &[key, layer] : layers[ladder.get ()])
      ladder->switch_peer (key, layer);
    ladder->update (budgets[ladder.get ()]);
  }
  for (auto &[key, wb] : webrtcbins)
    gst_object_unref (wb);
  for (GstStructure *s : messages)
    gst_element_post_message (element_,
        gst_message_new_element (GST_OBJECT (element_), s));
}

}  // namespace p2pcall
