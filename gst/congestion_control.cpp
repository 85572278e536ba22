#include "congestion_control.h"

#include <algorithm>

namespace p2pcall {

BandwidthEstimator::BandwidthEstimator (double min_bps, double max_bps,
    double start_bps)
  : min_ (min_bps), max_ (std::max (min_bps, max_bps)),
    estimate_ (std::clamp (start_bps, min_, max_))
{
}

void
BandwidthEstimator::set_bounds (double min_bps, double max_bps)
{
  min_ = min_bps;
  max_ = std::max (min_bps, max_bps);
  estimate_ = std::clamp (estimate_, min_, max_);
}

double
BandwidthEstimator::update (const LinkFeedback &feedback)
{
  LinkFeedback f = feedback;
  if (periods_ < kStartupPeriods) {
    periods_++;
    f.loss = std::min (f.loss, 0.0);
  }
  if (f.rtt_s > 0)
    min_rtt_ = min_rtt_ < 0 ? f.rtt_s : std::min (min_rtt_, f.rtt_s);
  // Queues somewhere on the path are filling: the round trip grew well
  // past its floor, or the one-way delay keeps growing.
  // (The round trip only when far above its floor: a busy machine's
  // scheduling alone adds tens of milliseconds now and then.)
  bool delay_growing = (f.rtt_s > 0 && min_rtt_ > 0 &&
          f.rtt_s > 3 * min_rtt_ + 0.3) || f.delay_trend_ms > 2.0;

  if (f.loss > kHighLoss) {
    double through = f.received_bps > 0 ? f.received_bps :
        f.sent_bps > 0 ? f.sent_bps * (1 - f.loss) : estimate_ * (1 - f.loss);
    // A little under what got through, so that the queue that overflowed
    // drains; never above the current estimate.
    estimate_ = std::min (estimate_, 0.9 * through);
    capacity_ = through;
    hold_ = kHoldAfterDecrease;
  } else if (delay_growing) {
    estimate_ *= 0.95;
    hold_ = std::max (hold_, 1);
  } else if (f.loss >= kLowLoss) {
    // The link is about full: step back by half of what was lost, to just
    // under it.
    estimate_ *= 1 - f.loss / 2;
  } else if (hold_ > 0) {
    hold_--;
  } else {
    if (capacity_ > 0 && f.sent_bps > kForgetCapacity * capacity_)
      capacity_ = -1;
    bool near = capacity_ > 0 && estimate_ >= kNearCapacity * capacity_;
    // Near the cap, any loss at all says it is reached.
    if (near && f.loss > 0)
      return estimate_;
    double grown = estimate_ * (1 + (near ? kNearGrowth : kGrowth) *
        std::max (f.interval_s, 0.1));
    // Application-limited: do not grow past what the sending would prove.
    if (f.sent_bps >= 0)
      grown = std::min (grown, std::max (estimate_,
              kProbeHeadroom * f.sent_bps));
    estimate_ = grown;
  }
  estimate_ = std::clamp (estimate_, min_, max_);
  return estimate_;
}

double
ReportLoss::update (int64_t packets_lost, double rtt_s, double fraction_lost,
    uint64_t packets_sent)
{
  bool fresh = fresh_ = packets_lost != last_lost_ || rtt_s != last_rtt_;
  if (fresh) {
    if (last_lost_ >= 0 && packets_sent > sent_at_last_)
      cumulative_ = std::clamp ((double) (packets_lost - last_lost_) /
          (double) (packets_sent - sent_at_last_), 0.0, 1.0);
    sent_at_last_ = packets_sent;
  }
  last_lost_ = packets_lost;
  last_rtt_ = rtt_s;
  double loss = std::max (fraction_lost, cumulative_);
  return fresh ? loss : std::min (loss, BandwidthEstimator::kHighLoss);
}

double
BandwidthEstimator::probe (double target)
{
  if (target > estimate_) {
    estimate_ = std::clamp (target, min_, max_);
    capacity_ = -1;             // tried above it on purpose
    hold_ = 0;
  }
  return estimate_;
}

double
UpProbe::update (const std::vector<LayerSpec> &ladder, int layer,
    double estimate, const LinkFeedback &f)
{
  if (since_ >= 0) {
    if (f.loss > BandwidthEstimator::kHighLoss) {
      wait_ = std::min (wait_ * 2, kMaxWait);
      since_ = -1;
    } else if (++since_ > kFailWindow) {
      since_ = -1;
    }
  }
  quiet_ = f.loss > BandwidthEstimator::kHighLoss ? 0 : quiet_ + 1;
  bool limited = layer > 0 && layer < (int) ladder.size () && f.loss >= 0 &&
      f.loss < BandwidthEstimator::kLowLoss && f.sent_bps > 0 &&
      estimate >= kLimited * f.sent_bps;
  if (!limited) {
    limited_ = 0;
    return 0;
  }
  // Both clocks run together: a trial comes once both are over.
  if (++limited_ < wait_ || quiet_ < kQuietPeriods)
    return 0;
  limited_ = 0;
  since_ = 0;
  // A little above what LayerChooser wants for the step up.
  return ladder[layer - 1].min_bps * LayerChooser::kUpMargin * 1.05;
}

std::vector<LayerSpec>
make_ladder (int width, int height, int max_layers, double min_bps,
    double max_bps)
{
  std::vector<LayerSpec> ladder;
  int w = width, h = height;
  double rate = max_bps;
  for (int i = 0; i < std::max (max_layers, 1); i++) {
    if (i > 0 && (w < 80 || rate < min_bps))
      break;
    LayerSpec layer;
    // Encoders and scalers want even sizes.
    layer.width = std::max (2, w & ~1);
    layer.height = std::max (2, h & ~1);
    layer.max_bps = std::max (rate, min_bps);
    layer.min_bps = (i == 0 ? kTopLayerEntry : kLayerEntry) *
        layer.max_bps;
    ladder.push_back (layer);
    w /= 2;
    h /= 2;
    rate /= 3;
  }
  ladder.back ().min_bps = 0;
  return ladder;
}

int
fitting_layer (const std::vector<LayerSpec> &ladder, double budget_bps)
{
  for (size_t i = 0; i < ladder.size (); i++)
    if (budget_bps >= ladder[i].min_bps)
      return (int) i;
  return (int) ladder.size () - 1;
}

int
LayerChooser::update (const std::vector<LayerSpec> &ladder, double budget_bps)
{
  int last = (int) ladder.size () - 1;
  layer_ = std::clamp (layer_, 0, last);
  if (since_up_ >= 0 && ++since_up_ > kFailWindow)
    since_up_ = -1;

  if (budget_bps < ladder[layer_].min_bps) {
    // Down at once, as far as needed: a frozen picture is worse than a
    // small one.
    layer_ = fitting_layer (ladder, budget_bps);
    good_periods_ = 0;
    if (since_up_ >= 0) {
      // The last step up did not hold: wait longer before the next one.
      wait_ = std::min (wait_ * 2, kMaxBackoff);
      since_up_ = -1;
    }
    return layer_;
  }

  if (layer_ > 0 && budget_bps >= kUpMargin * ladder[layer_ - 1].min_bps) {
    if (++good_periods_ >= wait_) {
      layer_--;
      good_periods_ = 0;
      since_up_ = 0;
    }
  } else {
    good_periods_ = 0;
  }
  // A long stable stretch forgives earlier failures.
  if (since_up_ < 0 && good_periods_ == 0 && wait_ > kUpPeriods &&
      budget_bps >= ladder[layer_].min_bps * kUpMargin)
    wait_ = std::max (kUpPeriods, wait_ - 1);
  return layer_;
}

}  // namespace p2pcall
