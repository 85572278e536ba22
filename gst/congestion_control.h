// Per-receiver congestion control for p2pcallsink's adaptive mode, kept free
// of GStreamer so that it can be tested on its own: a loss- and delay-based
// bandwidth estimate per peer (BandwidthEstimator), the encoding ladder's
// shape (make_ladder) and the choice of a layer for an estimate, with
// hysteresis (LayerChooser).
#pragma once

#include <cstdint>
#include <vector>

namespace p2pcall {

// What one control period (about a second) told about one peer's link.
// Negative values are unknown.
struct LinkFeedback {
  double interval_s = 1;
  double sent_bps = -1;         // what we sent to the peer, every stream
  double received_bps = -1;     // what reached it (transport-wide CC)
  double loss = -1;             // fraction of packets lost, 0..1
  double rtt_s = -1;            // round-trip time
  double delay_trend_ms = -1;   // growth of the one-way delay (queues filling)
};

// The estimate of what a peer's link carries, in bits per second.
//
// A loss-based controller with a delay guard, our own:
// - more than kHighLoss of the packets lost: the link is full; the estimate
//   falls to a little under what actually got through (the received rate,
//   or the sent rate times what was not lost), and never rises for
//   kHoldAfterDecrease periods afterwards;
// - between kLowLoss and kHighLoss lost: step down by half the loss; the
//   delay growing, or the RTT well above the smallest seen: step down 5 %;
// - less lost: grow by kGrowth per second, multiplicatively, but not past
//   kProbeHeadroom times what is being sent (a peer on a low layer that
//   sends little cannot claim a link it never tried); near the rate where
//   loss last began (from kNearCapacity of it), only by kNearGrowth per
//   second, so that a capped link is held just under its cap instead of
//   being overrun every few seconds; that rate is forgotten once more than
//   kForgetCapacity times it was actually sent without loss (the link got
//   wider), or when UpProbe tries above it;
// always within [min, max]. The first kStartupPeriods periods of a
// connection take no loss into account: they count as lost what was sent
// before the receiver was ready (its first transport-wide CC feedback, its
// first report), and a busy machine's receiver drops the first packets it
// cannot read yet; a link held on that would be sent a smaller layer for
// the minute it takes to prove it wider (UpProbe).
class BandwidthEstimator {
public:
  // Low: nothing is retransmitted, so a few percent lost already breaks
  // most frames of a small picture (two or three packets each).
  static constexpr double kHighLoss = 0.03;
  static constexpr double kLowLoss = 0.005;
  static constexpr double kGrowth = 0.10;
  static constexpr double kProbeHeadroom = 1.5;
  static constexpr int kHoldAfterDecrease = 2;
  static constexpr double kNearCapacity = 0.85;
  static constexpr double kNearGrowth = 0.02;
  static constexpr double kForgetCapacity = 1.1;
  static constexpr int kStartupPeriods = 3;

  BandwidthEstimator (double min_bps, double max_bps, double start_bps);

  // Folds in one period's feedback; returns the new estimate.
  double update (const LinkFeedback & feedback);
  // Raises the estimate to @target for a trial (UpProbe); loss then
  // brings it back down as usual.
  double probe (double target);
  double estimate () const { return estimate_; }
  // The bounds may change while running (the sink's properties).
  void set_bounds (double min_bps, double max_bps);

private:
  double min_, max_;
  double estimate_;
  double min_rtt_ = -1;
  double capacity_ = -1;        // where loss last began, -1 unknown
  int hold_ = 0;
  int periods_ = 0;
};

// The loss a peer's receiver reports say, one control period at a time.
// A report's fraction lost covers only the time since the receiver's
// previous report, which can be a few milliseconds: Chrome sends one with
// each of its feedback packets (NACKs, transport-wide CC), and on a link
// losing half the packets the last report read said 0. So the loss is also
// taken from the cumulative count, between two fresh reports, against what
// we sent in between; the larger of the two is used. Between fresh
// reports, a loss only holds the estimate (at most kHighLoss): for a peer
// that sends transport-wide CC feedback, the controller takes that
// feedback's loss instead (a receiver that sends much feedback may send no
// report for many seconds: GStreamer 1.22's rtpsession lets its frequent
// early feedback packets, which carry none, take the regular report's turn).
class ReportLoss {
public:
  // One reading: the reports' cumulative packets lost and round-trip time
  // (a change in either marks a fresh report), their latest fraction lost,
  // and the packets we sent so far. Returns the loss for this period.
  double update (int64_t packets_lost, double rtt_s, double fraction_lost,
      uint64_t packets_sent);
  // Whether the last update() read a fresh report.
  bool fresh () const { return fresh_; }

private:
  bool fresh_ = false;
  int64_t last_lost_ = -1;
  double last_rtt_ = -1;
  uint64_t sent_at_last_ = 0;
  double cumulative_ = 0;
};

// One encoding of a video input.
struct LayerSpec {
  int width = 0, height = 0;
  double max_bps = 0;           // encoder bitrate ceiling
  double min_bps = 0;           // a peer needs this much to be sent it
};

// At most @max_layers encodings of a @width x @height input: full
// resolution up to @max_bps, then each halving the width and height with a
// third of the bitrate (a smaller picture needs more bits per pixel), while
// the picture stays at least 80 pixels wide
// and the bitrate above @min_bps. A layer is chosen for a peer from
// kTopLayerEntry of its ceiling for the full size, kLayerEntry for the
// smaller ones (the lowest from nothing at all). The smaller layers are
// entered lower: a quarter of the pixels is watchable on a fifth of its
// ceiling (libwebrtc's simulcast starts its middle layer at about that
// share too), and with 40 % a 320 kbit/s link (a 200 kbit/s video budget
// once held just under its cap) got 160x120 where 320x240 plays smoothly.
std::vector<LayerSpec> make_ladder (int width, int height, int max_layers,
    double min_bps, double max_bps);
constexpr double kTopLayerEntry = 0.4;
constexpr double kLayerEntry = 0.2;

// Which layer (0 the highest) a peer is sent, from its video budget.
// Down at once when the budget falls under the layer's entry; up only after
// the budget has held kUpMargin above the next layer's entry for
// kUpPeriods periods in a row; an up switch that has to be undone within
// kFailWindow periods doubles the wait before the next try (up to
// kMaxBackoff periods), so a link at a layer's border does not flap.
class LayerChooser {
public:
  static constexpr double kUpMargin = 1.2;
  static constexpr int kUpPeriods = 3;
  static constexpr int kFailWindow = 10;
  static constexpr int kMaxBackoff = 24;

  explicit LayerChooser (int start_layer) : layer_ (start_layer) {}

  // One period: returns the layer to send.
  int update (const std::vector<LayerSpec> & ladder, double budget_bps);
  int layer () const { return layer_; }

private:
  int layer_;
  int good_periods_ = 0;
  int wait_ = kUpPeriods;
  int since_up_ = -1;           // periods since the last up switch, -1 none
};

// When to try a higher layer that the estimate cannot prove. A peer whose
// layer sends well under its estimate (an easy picture, or a layer capped
// below the link) never shows what its link carries, so after its link
// widens it would stay where it is. After kFirstWait periods in which the
// estimate was at least kLimited times what was sent, and none with heavy
// loss for kQuietPeriods, the estimate is raised to what the next layer up
// needs (LayerChooser then switches after its usual wait); a trial
// followed by heavy loss within kFailWindow periods doubles the wait, up to
// kMaxWait periods. A failed trial costs the viewer a moment of broken
// picture on a link that really is narrow, hence the long quiet time.
class UpProbe {
public:
  static constexpr double kLimited = 1.4;
  static constexpr int kFirstWait = 15;
  static constexpr int kMaxWait = 120;
  static constexpr int kFailWindow = 8;
  static constexpr int kQuietPeriods = 60;

  // One period, with the peer's whole estimate and feedback: the video
  // budget to try for this ladder (bit/s), or 0.
  double update (const std::vector<LayerSpec> & ladder, int layer,
      double estimate, const LinkFeedback & feedback);
  int wait () const { return wait_; }

private:
  int limited_ = 0;
  int quiet_ = 0;               // periods since heavy loss
  int wait_ = kFirstWait;
  int since_ = -1;              // periods since the last trial, -1 none
};

// The layer a budget fits at once, without hysteresis (a new peer's start).
int fitting_layer (const std::vector<LayerSpec> & ladder, double budget_bps);

}  // namespace p2pcall
