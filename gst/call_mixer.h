// p2pcallsrc's grid layout: every remote camera composited into one live
// video stream and every remote microphone mixed into one live audio stream,
// with a background that keeps both flowing before anyone joins.
#pragma once

#include <gst/gst.h>

#include <mutex>
#include <vector>

namespace p2pcall {

struct GridSettings {
  int width = 1280;
  int height = 720;
  int fps_n = 30;
  int fps_d = 1;
  guint latency_ms = 50;        // the remote streams' jitter buffer
};

class CallMixer {
public:
  CallMixer (GstBin * bin, GstDebugCategory * category);
  ~CallMixer ();

  // Builds the mixers and backgrounds inside the bin; false (with @error
  // set) when an element is missing. Idempotent.
  bool build (const GridSettings & settings, GError ** error);
  // Removes everything build() added (the bin must be in NULL).
  void clear ();
  bool built () const { return compositor_ != nullptr; }

  // The mixers' outputs, for the element's always pads (not reffed).
  GstPad *video_output () const { return video_out_; }
  GstPad *audio_output () const { return audio_out_; }

  // Links a decoded remote stream into the grid or the mix. Returns a
  // handle for remove_input(), nullptr when it could not be linked.
  struct Input;
  Input *add_input (GstPad * decoded, bool video);
  // Unlinks and frees @input, then lays the grid out again.
  void remove_input (Input * input);
  // Ends both outputs (an EOS sent to the element).
  void send_eos ();

private:
  void relayout ();

  GstBin *bin_;                 // not reffed: the bin owns us
  GstDebugCategory *category_;
  GridSettings settings_;

  // Children of bin_, not reffed beyond the bin's ownership.
  std::vector<GstElement *> own_;
  GstElement *compositor_ = nullptr;
  GstElement *audiomixer_ = nullptr;
  GstPad *video_out_ = nullptr;
  GstPad *audio_out_ = nullptr;

  // lock_ guards inputs_: decoders add from streaming threads, the session
  // removes from its own. Never held while changing element states.
  std::mutex lock_;
  std::vector<Input *> inputs_;
};

}  // namespace p2pcall
