// The adaptive mode's decisions on their own (gst/congestion_control): the
// ladder's shape, the estimate against simulated links, the layer choice's
// hysteresis. No network, no pipeline: GST_CHECKS=<name> runs one.
#include "../../gst/congestion_control.h"

#include <gst/check/gstcheck.h>

#include <algorithm>

using namespace p2pcall;

namespace {

// A link that carries @capacity bits per second and drops what is sent
// beyond it (what coturn's max-bps does), driven by a sender that sends what
// its estimate allows, as the sink does: one second per step.
struct SimulatedLink {
  double capacity;
  double overhead = 1.1;        // what the sent rate adds over the budget

  LinkFeedback step (double budget)
  {
    LinkFeedback f;
    f.sent_bps = budget * overhead;
    f.loss = f.sent_bps > capacity ? (f.sent_bps - capacity) / f.sent_bps : 0;
    f.rtt_s = 0.02;
    return f;
  }
};

}  // namespace

GST_START_TEST (test_ladder_shape)
{
  std::vector<LayerSpec> ladder = make_ladder (640, 480, 3, 100e3, 1500e3);
  fail_unless_equals_int (ladder.size (), 3);
  fail_unless_equals_int (ladder[0].width, 640);
  fail_unless_equals_int (ladder[0].height, 480);
  fail_unless_equals_int (ladder[1].width, 320);
  fail_unless_equals_int (ladder[2].width, 160);
  fail_unless (ladder[0].max_bps == 1500e3);
  for (size_t i = 1; i < ladder.size (); i++) {
    fail_unless (ladder[i].max_bps < ladder[i - 1].max_bps);
    // Each layer is entered before the one above can be.
    fail_unless (ladder[i].min_bps < ladder[i - 1].min_bps);
  }
  fail_unless (ladder.back ().min_bps == 0, "the lowest layer always fits");

  // Bounded by the size asked for, by small pictures, by min-bitrate.
  fail_unless_equals_int (make_ladder (640, 480, 1, 100e3, 1500e3).size (), 1);
  fail_unless_equals_int (make_ladder (160, 120, 3, 100e3, 1500e3).size (), 2);
  fail_unless_equals_int (make_ladder (1280, 720, 4, 300e3, 1500e3).size (),
      2);
  // Odd sizes are made even for encoders.
  for (const LayerSpec &l : make_ladder (642, 362, 3, 50e3, 3000e3))
    fail_unless (l.width % 2 == 0 && l.height % 2 == 0);
}
GST_END_TEST;

// The first periods of a connection count packets sent before the
// receiver was ready as lost: a wide link keeps its start estimate, a
// narrow one is found right after.
GST_START_TEST (test_estimate_startup_loss)
{
  BandwidthEstimator estimator (100e3, 1500e3, 800e3);
  LinkFeedback f;
  f.sent_bps = 800e3;
  f.loss = 0.4;
  for (int i = 0; i < BandwidthEstimator::kStartupPeriods; i++)
    fail_unless (estimator.update (f) >= 800e3);
  fail_unless (estimator.update (f) < 800e3 * 0.6,
      "loss after the start-up periods is not taken into account");
}
GST_END_TEST;

GST_START_TEST (test_estimate_finds_capped_link)
{
  // 316 kbit/s: coturn max-bps=40000 as measured.
  SimulatedLink link {316e3};
  BandwidthEstimator estimator (100e3, 1500e3, 800e3);
  std::vector<double> estimates;
  for (int i = 0; i < 60; i++) {
    double e = estimator.estimate ();
    estimates.push_back (estimator.update (link.step (e)));
  }
  // After the first seconds it stays under the link and not far from it,
  // and overruns it rarely.
  int overruns = 0;
  for (int i = 15; i < 60; i++) {
    overruns += estimates[i] * link.overhead > 1.02 * link.capacity;
    fail_unless (estimates[i] * link.overhead <= 1.3 * link.capacity,
        "second %d: %.0f over a %.0f link", i, estimates[i], link.capacity);
    fail_unless (estimates[i] >= 0.4 * link.capacity,
        "second %d: %.0f on a %.0f link", i, estimates[i], link.capacity);
  }
  fail_unless (overruns <= 5, "%d overruns in 45 s", overruns);
}
GST_END_TEST;

GST_START_TEST (test_estimate_grows_on_clean_link)
{
  SimulatedLink link {50e6};
  BandwidthEstimator estimator (100e3, 1500e3, 300e3);
  for (int i = 0; i < 30; i++)
    estimator.update (link.step (estimator.estimate ()));
  fail_unless (estimator.estimate () == 1500e3, "%.0f",
      estimator.estimate ());

  // A lifted cap: from a capped estimate back to the top within a bound.
  BandwidthEstimator lifted (100e3, 1500e3, 800e3);
  SimulatedLink capped {316e3};
  for (int i = 0; i < 30; i++)
    lifted.update (capped.step (lifted.estimate ()));
  fail_unless (lifted.estimate () < 400e3);
  int seconds = 0;
  while (lifted.estimate () < 1500e3 && seconds < 120) {
    lifted.update (link.step (lifted.estimate ()));
    seconds++;
  }
  fail_unless (seconds < 45, "%d s to climb back", seconds);
}
GST_END_TEST;

GST_START_TEST (test_estimate_application_limited)
{
  // A peer that sends little (a static picture) proves nothing above it.
  BandwidthEstimator estimator (50e3, 1500e3, 100e3);
  LinkFeedback f;
  f.sent_bps = 80e3;
  f.loss = 0;
  for (int i = 0; i < 30; i++)
    estimator.update (f);
  fail_unless (estimator.estimate () <= BandwidthEstimator::kProbeHeadroom *
      f.sent_bps + 1, "%.0f", estimator.estimate ());

  // Loss without a sent rate still lowers it (past the start-up periods,
  // which ignore loss); growing delay does too.
  BandwidthEstimator lossy (100e3, 1500e3, 1000e3);
  LinkFeedback lost;
  lost.loss = 0.3;
  for (int i = 0; i <= BandwidthEstimator::kStartupPeriods; i++)
    lossy.update (lost);
  fail_unless (lossy.estimate () < 1000e3);
  BandwidthEstimator delayed (100e3, 1500e3, 1000e3);
  LinkFeedback queueing;
  queueing.sent_bps = 1000e3;
  queueing.loss = 0;
  queueing.rtt_s = 0.02;
  double before = delayed.update (queueing);
  queueing.rtt_s = 0.5;
  delayed.update (queueing);
  fail_unless (delayed.estimate () < before);
}
GST_END_TEST;

GST_START_TEST (test_layer_hysteresis)
{
  std::vector<LayerSpec> ladder = make_ladder (640, 480, 3, 100e3, 1500e3);
  LayerChooser chooser (0);
  // Down at once, to the layer that fits.
  fail_unless_equals_int (chooser.update (ladder, ladder[1].min_bps * 0.9), 2);
  // Up only after the budget held for a while.
  double up = ladder[1].min_bps * LayerChooser::kUpMargin * 1.01;
  int periods = 0;
  while (chooser.update (ladder, up) == 2 && periods < 100)
    periods++;
  fail_unless_equals_int (periods + 1, LayerChooser::kUpPeriods);
  fail_unless_equals_int (chooser.layer (), 1);
  // Just above the entry but under the margin: no move up.
  for (int i = 0; i < 20; i++)
    fail_unless_equals_int (chooser.update (ladder, ladder[0].min_bps * 1.1),
        1);
}
GST_END_TEST;

// What a 320 kbit/s link leaves for video once the estimate holds under
// its cap (about 200 kbit/s) is sent 320x240, not 160x120: a quarter of the
// pixels plays smoothly there.
GST_START_TEST (test_narrow_link_gets_half_size)
{
  std::vector<LayerSpec> ladder = make_ladder (640, 480, 3, 100e3, 1500e3);
  fail_unless_equals_int (ladder[fitting_layer (ladder, 200e3)].width, 320);
  // And a chooser on the lowest layer climbs there.
  LayerChooser chooser (2);
  for (int i = 0; i < LayerChooser::kUpPeriods; i++)
    chooser.update (ladder, 200e3);
  fail_unless_equals_int (ladder[chooser.layer ()].width, 320);
  // 640x480 stays for links that carry it.
  fail_unless (ladder[0].min_bps > 320e3);
}
GST_END_TEST;

GST_START_TEST (test_layer_no_flapping)
{
  // A budget that fails each time the layer above is tried: the tries get
  // rarer instead of flapping every few periods.
  std::vector<LayerSpec> ladder = make_ladder (640, 480, 3, 100e3, 1500e3);
  LayerChooser chooser (1);
  double high = ladder[0].min_bps * LayerChooser::kUpMargin * 1.01;
  double low = ladder[0].min_bps * 0.5;
  int switches = 0, previous = chooser.layer ();
  for (int i = 0; i < 120; i++) {
    // Whenever it is on the top layer, the link says no.
    int layer = chooser.update (ladder, previous == 0 ? low : high);
    switches += layer != previous;
    previous = layer;
  }
  // Without backoff: a try every kUpPeriods + 1 periods, 60 switches.
  fail_unless (switches <= 20, "%d switches in 120 periods", switches);
}
GST_END_TEST;

// A sender whose layers produce at most what their picture needs (an easy
// picture: far under the layer's ceiling), over a link capped at @capacity
// for @capped_periods and then wide open. Returns the layer per period.
static std::vector<int>
run_layers (double capacity, int capped_periods, int periods)
{
  std::vector<LayerSpec> ladder = make_ladder (640, 480, 3, 100e3, 1500e3);
  const double needs[] = {900e3, 250e3, 80e3};
  BandwidthEstimator estimator (100e3, 1500e3, 800e3);
  LayerChooser chooser (fitting_layer (ladder, 800e3));
  UpProbe probe;
  std::vector<int> layers;
  for (int i = 0; i < periods; i++) {
    double link = i < capped_periods ? capacity : 50e6;
    LinkFeedback f;
    f.sent_bps = 1.1 * std::min (needs[chooser.layer ()],
        0.75 * estimator.estimate ());
    f.loss = f.sent_bps > link ? (f.sent_bps - link) / f.sent_bps : 0;
    double estimate = estimator.update (f);
    double trial = probe.update (ladder, chooser.layer (), estimate, f);
    if (trial > 0)
      estimate = estimator.probe (trial);
    layers.push_back (chooser.update (ladder, estimate));
  }
  return layers;
}

GST_START_TEST (test_up_probe_after_lift)
{
  // Capped for a minute, then lifted: the top layer within a bounded time,
  // although the layer below never sends enough to prove it.
  std::vector<int> layers = run_layers (316e3, 60, 160);
  fail_unless (layers[59] > 0, "on the top layer through the cap");
  int reached = -1;
  for (int i = 60; i < 160 && reached < 0; i++)
    if (layers[i] == 0)
      reached = i - 60;
  fail_unless (reached >= 0 && reached <= UpProbe::kQuietPeriods + 10,
      "top layer %d s after the lift",
      reached);
}
GST_END_TEST;

GST_START_TEST (test_up_probe_backs_off)
{
  // Capped for good: trials of the top layer get rarer.
  std::vector<int> layers = run_layers (316e3, 300, 300);
  int trials = 0;
  for (size_t i = 1; i < layers.size (); i++)
    trials += layers[i] == 0 && layers[i - 1] != 0;
  fail_unless (trials <= 5, "%d trials of the top layer in 300 s", trials);
  int late = 0;
  for (size_t i = 150; i < layers.size (); i++)
    late += layers[i] == 0 && layers[i - 1] != 0;
  fail_unless (late <= 2, "%d trials in the last 150 s", late);
}
GST_END_TEST;

// Chrome sends a receiver report with each feedback packet, so the latest
// one's fraction lost covers a few milliseconds and may say 0 while half
// the packets are lost: the cumulative count says what was lost since the
// previous reading.
GST_START_TEST (test_report_loss_cumulative)
{
  ReportLoss loss;
  // 100 packets a second; the first reading only sets the counts.
  fail_unless (loss.update (0, 0.01, 0, 100) == 0);
  fail_unless (loss.update (0, 0.02, 0, 200) == 0, "nothing lost");
  // 50 of the next 100 lost; the last report's own fraction says 0.
  double l = loss.update (50, 0.01, 0, 300);
  fail_unless (l > 0.45 && l < 0.55, "loss %f", l);
  // The same report read again only holds the estimate.
  fail_unless (loss.update (50, 0.01, 0, 400) ==
      BandwidthEstimator::kHighLoss);
  fail_if (loss.fresh ());
  // A fresh report two periods on: 20 lost of the 200 sent since.
  l = loss.update (70, 0.03, 0, 500);
  fail_unless (loss.fresh ());
  fail_unless (l > 0.09 && l < 0.11, "loss %f", l);
  // A report's own fraction counts when it says more.
  fail_unless (loss.update (70, 0.02, 0.4, 600) == 0.4);
}
GST_END_TEST;

static Suite *
congestion_control_suite (void)
{
  Suite *s = suite_create ("p2pcall-congestion-control");
  TCase *tc = tcase_create ("general");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_ladder_shape);
  tcase_add_test (tc, test_estimate_startup_loss);
  tcase_add_test (tc, test_estimate_finds_capped_link);
  tcase_add_test (tc, test_estimate_grows_on_clean_link);
  tcase_add_test (tc, test_estimate_application_limited);
  tcase_add_test (tc, test_layer_hysteresis);
  tcase_add_test (tc, test_narrow_link_gets_half_size);
  tcase_add_test (tc, test_layer_no_flapping);
  tcase_add_test (tc, test_up_probe_after_lift);
  tcase_add_test (tc, test_up_probe_backs_off);
  tcase_add_test (tc, test_report_loss_cumulative);
  return s;
}

GST_CHECK_MAIN (congestion_control);
