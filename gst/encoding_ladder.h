// p2pcallsink's adaptive mode (congestion-control=adaptive): each raw video
// input feeds an EncodingLadder, a bounded set of encodings (full, half,
// quarter resolution...) started when some peer needs one and stopped when
// none does; an AdaptiveController estimates each peer's link from the
// feedback its webrtcbin gets and moves the peer between layers at key
// frames, without renegotiation. CPU is bounded by the ladder, not by the
// number of peers.
#pragma once

#include "congestion_control.h"

#include <gst/gst.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace p2pcall {

struct AdaptiveSettings {
  guint min_kbps = 100;
  guint max_kbps = 1500;
  guint start_kbps = 800;
  int max_layers = 3;
};

// Builds the encoder chain of one layer (raw I420 in, encoded out) at
// @kbps; the element whose bitrate changes later has a "target-bitrate"
// (bit/s) or a "bitrate" (kbit/s) property.
using EncoderFactory = std::function<std::vector<GstElement *> (guint kbps)>;

// The layers of one raw video input, between its tee (raw video) and each
// peer's payload chain. Each peer gets a funnel fed by the layer tees it is
// switching between; a probe on each of those tee pads lets through only
// the peer's current layer, and moves it to a pending one at that layer's
// first key frame.
class EncodingLadder {
public:
  EncodingLadder (GstBin * bin, GstElement * raw_tee, int width, int height,
      const AdaptiveSettings & settings, EncoderFactory factory);
  ~EncodingLadder ();

  const std::vector<LayerSpec> & specs () const { return specs_; }

  // The funnel a new peer's payload chain takes this input from (in the
  // bin, in its state; the ladder keeps its reference), first sent @layer.
  GstElement *connect_peer (const void *peer, int layer);
  // Stops feeding @peer (before its webrtcbin stops); its funnel stays in
  // the bin for the caller to remove.
  void disconnect_peer (const void *peer);
  // Sends @peer @layer from that layer's next key frame (asked for now).
  void switch_peer (const void *peer, int layer);
  // The layer the peer receives now (-1 before its first key frame).
  int peer_layer (const void *peer);
  // Asks every layer the peer is linked to for a key frame.
  void force_key_unit (const void *peer);
  // Encoder bitrates from what the peers on each layer can take (bit/s per
  // peer), links no longer used cut, layers nobody uses stopped.
  void update (const std::map<const void *, double> & budgets);
  // Encoders running now.
  int running_layers ();

private:
  struct Gate;
  struct Link;
  struct Layer;
  struct Peer;

  void start_layer (Layer & layer);
  void stop_layer (Layer & layer);
  void link_peer (Peer & peer, int layer);
  void unlink (Link & link);

  GstBin *bin_;
  GstElement *raw_tee_;
  std::vector<LayerSpec> specs_;
  guint min_kbps_;
  EncoderFactory factory_;

  // Guards layers_ and peers_; taken by the sink's session thread and the
  // controller's thread. Streaming threads only read the gates (atomics).
  std::mutex lock_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::map<const void *, std::unique_ptr<Peer>> peers_;
};

// What the controller reports per peer (stats property, bus messages).
struct PeerRateReport {
  std::string label;
  double estimate_bps = 0;
  int layer = -1;
  int width = 0, height = 0;
  double sent_bps = 0;
  double loss = 0;
  double rtt_s = -1;
  bool twcc = false;            // transport-wide feedback was used
};

// Per peer: a bandwidth estimate from its webrtcbin's statistics (RTCP
// receiver reports and transport-wide CC), turned into a layer per ladder
// and encoder bitrates, once per period on a thread of its own. Posts
// `p2pcall-peer-bitrate` on @element's bus each period.
class AdaptiveController {
public:
  explicit AdaptiveController (GstElement * element);
  ~AdaptiveController ();

  void set_settings (const AdaptiveSettings & settings);
  void add_ladder (std::shared_ptr<EncodingLadder> ladder);
  // A peer's webrtcbin whose video comes from the ladders (the element has
  // connected it to them already); @audio: it is sent audio as well.
  void add_peer (GstElement * webrtcbin, const std::string & label,
      bool audio);
  void remove_peer (GstElement * webrtcbin);
  // The layer a new peer of @ladder starts on.
  int start_layer (const EncodingLadder & ladder);
  std::vector<PeerRateReport> reports ();
  // Ends the thread (the element stops); add_peer starts it again.
  void stop ();

private:
  struct PeerControl;
  void run ();
  void tick ();

  GstElement *element_;         // not reffed: it owns us

  std::mutex lock_;             // guards everything below but the thread
  AdaptiveSettings settings_;
  std::vector<std::shared_ptr<EncodingLadder>> ladders_;
  std::map<GstElement *, std::unique_ptr<PeerControl>> peers_;
  std::vector<PeerRateReport> reports_;
  bool running_ = false;
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace p2pcall
