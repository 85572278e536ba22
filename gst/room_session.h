// One membership of a room: the signalling client, one webrtcbin per remote
// member and the negotiation between them. Its host (a CallMember, which
// holds the p2pcallsink and p2pcallsrc of the member) supplies the media and
// the bin the webrtcbins live in.
#pragma once

#include "signalling.h"

#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace p2pcall {

// What the element settings give a session; copied at start.
struct SessionConfig {
  std::string server;
  std::string room;
  std::string peer_name;
  std::string token;
  std::string stun_server;      // empty: what the server advertises
  std::string turn_server;      // empty: what the server advertises
  std::vector<std::string> ice_addresses;
  std::string ca_file;          // empty: the system's CAs
  bool relay_only = false;      // ice-transport-policy=relay
  int latency_ms = -1;          // webrtcbin jitter buffer; -1 leaves it
};

// Media an element attaches to one peer's webrtcbin; the element subclasses it.
struct PeerMedia {
  virtual ~PeerMedia () = default;
};

class RoomSessionHost {
public:
  virtual ~RoomSessionHost () = default;

  // What this member's peer-state says it sends.
  virtual bool sends_audio () const = 0;
  virtual bool sends_video () const = 0;
  // False while the media to offer is not known yet (inputs without caps).
  virtual bool media_ready () const = 0;
  // Whether this member takes what the others send.
  virtual bool receives () const = 0;
  // Adds media to a new peer's @webrtcbin, already in the element and in
  // its state. @label names the peer in pads (its id when it arrived).
  // @offer is the peer's offer when answering it, nullptr when offering.
  virtual std::unique_ptr<PeerMedia> attach_media (GstElement * webrtcbin,
      const std::string & label, const GstSDPMessage * offer) = 0;
  // Stops feeding @media's webrtcbin, before that webrtcbin stops.
  virtual void unlink_media (PeerMedia *) {}
  // Removes what attach_media() added; the webrtcbin goes afterwards.
  virtual void detach_media (GstElement * webrtcbin, PeerMedia * media) = 0;
  // The peer's transport just connected (the sink asks for a key frame).
  virtual void peer_connected (PeerMedia *) {}
  // Where the webrtcbins go (a pipeline of the member's own).
  virtual GstBin *peer_bin () = 0;
  // The elements the member speaks through, reffed: its bus messages,
  // errors and warnings are posted on each.
  virtual std::vector<GstElement *> elements () = 0;
};

class RoomSession {
public:
  RoomSession (RoomSessionHost & host, GstDebugCategory * category);
  ~RoomSession ();

  // Starts signalling on a thread and main context of the session's own.
  void start (const SessionConfig & config);
  // Leaves the room and removes every peer; call from the element's state
  // change, not from the session thread.
  void stop ();

  // The host's media_ready() may have turned true: send deferred offers.
  void media_ready_changed ();
  // Runs @change on the session thread and returns when it has run. When
  // @renegotiate, what the member sends or receives changes there: every
  // peer connection is closed before @change and made anew after it, with
  // a fresh offer from us (a peer takes an offer of another SDP session as
  // a new connection, PROTOCOL.md), and the peer-state goes out again.
  // Before start() or after stop(), @change runs on the calling thread.
  void run_sync (std::function<void ()> change, bool renegotiate);
  // webrtcbin's jitter buffer latency for connections made from now on.
  void set_latency_ms (int latency_ms);
  // Runs @fn on the session thread (dropped when the session is stopped).
  void run_async (std::function<void ()> fn) { post (std::move (fn)); }
  // Per-peer statistics (see the elements' "stats" property).
  GstStructure *stats ();

private:
  struct PeerConnection;

  // False when the session is not running (@fn was dropped).
  bool post (std::function<void ()> fn);
  GSource *post_later (guint ms, std::function<void ()> fn);
  SignallingEvents events ();

  void on_joined (const std::string & self_id,
      const std::vector<RemotePeer> & peers,
      const std::vector<IceServer> & ice_servers);
  void on_peer_joined (const RemotePeer & peer);
  void on_peer_state (const std::string & peer_id,
      const std::string & client_id, bool receive_only);
  // Sends nothing: then there is no connection with another such member.
  bool receive_only () const;
  void send_peer_state ();
  void resolve_join (const std::string & peer_id,
      const std::string & client_id);
  void on_description (const std::string & peer_id, const std::string & type,
      const std::string & sdp);
  void on_candidate (const std::string & peer_id, unsigned mline,
      const std::string & candidate);
  void on_peer_left (const std::string & peer_id);
  void on_error (bool fatal, const std::string & code,
      const std::string & message);
  void remove_unconfirmed ();

  PeerConnection *find_by_id (const std::string & remote_id);
  PeerConnection *find_by_client_id (const std::string & client_id);
  PeerConnection *find_by_webrtcbin (GstElement * webrtcbin);
  PeerConnection *create_peer (const std::string & remote_id,
      const std::string & client_id, const std::string & name,
      const GstSDPMessage * offer);
  void configure_webrtcbin (GstElement * webrtcbin);
  void remove_peer (PeerConnection * pc, bool announce);
  void teardown (PeerConnection & pc);

  GstPromise *track_promise (GstElement * webrtcbin, GstPromise * promise);
  void untrack_promise (GstPromise * promise);
  void expire_promises (GstElement * webrtcbin);
  GstPromise *reply_promise (GstElement * webrtcbin,
      std::function<void (RoomSession *, GstElement *,
          const GstStructure *)> fn);
  void create_offer (PeerConnection & pc);
  void apply_remote (PeerConnection & pc, GstWebRTCSDPType type,
      GstSDPMessage * sdp);
  void warn_rejected_media (const PeerConnection & pc,
      const GstSDPMessage * answer);
  void fix_up_answer (GstElement * webrtcbin, GstSDPMessage * answer);
  void on_local_description (GstElement * webrtcbin, GstWebRTCSDPType type,
      const GstStructure * reply);
  void add_candidate (PeerConnection & pc, unsigned mline,
      const std::string & candidate);
  void on_connection_state (GstElement * webrtcbin);
  void on_gathering_state (GstElement * webrtcbin);
  // A webrtcbin notify:: handler that runs @Handler on the session thread.
  template <void (RoomSession::*Handler) (GstElement *)>
  static void on_session_thread (GstElement * webrtcbin, GParamSpec *,
      RoomSession * self);

  void post_peer_message (const char *name, const PeerConnection & pc,
      const char *state = nullptr);
  void post_element_message (GstStructure * s);
  void element_message (GstMessageType type, GQuark domain, gint code,
      const std::string & text, const std::string & debug = {});
  void renegotiate_all (const std::function<void ()> & change);
  void announce_peer (PeerConnection & pc);

  RoomSessionHost & host_;
  GstObject *log_object_;       // the host's peer bin, for debug logs
  GstDebugCategory *category_;
  const std::string client_id_;

  // Only the session thread touches these while it runs.
  SessionConfig config_;
  std::unique_ptr<SignallingClient> signalling_;
  std::vector<IceServer> ice_servers_;
  // host:port of the TURN servers given to webrtcbins (no credentials).
  std::string turn_hosts_;
  std::string self_id_;
  bool joined_before_ = false;
  std::map<std::string, GSource *> pending_joins_;      // by peer id
  std::map<std::string, std::string> known_client_ids_; // peer id -> clientId
  std::set<std::string> receive_only_peers_;            // peer ids
  // Members we have no connection with because neither side sends, and we
  // were in the room first: we offer once either sends (peer id ->
  // clientId).
  std::map<std::string, std::string> idle_peers_;
  // Newcomers to offer to once every input has caps: (peer id, clientId).
  std::vector<std::pair<std::string, std::string>> deferred_offers_;
  // Offers to answer once every input has caps, with their candidates.
  struct DeferredAnswer {
    std::string peer_id;
    std::string sdp;
    std::vector<std::pair<unsigned, std::string>> candidates;
  };
  std::vector<DeferredAnswer> deferred_answers_;
  // Takes @answer's offer and candidates as if they came now.
  void answer (const DeferredAnswer & d);
  // Peers whose connection was started over while our offer on the old one
  // was unanswered: its answer may still come and would be taken for the
  // new offer's. The new offer waits for it (or a while): by peer id, the
  // clientId and the wait's timeout.
  std::map<std::string, std::pair<std::string, GSource *>> stale_answers_;
  void offer_anew (const std::string & peer_id, const std::string & client_id);
  GSource *grace_source_ = nullptr;
  guint next_key_ = 0;

  // peers_lock_ guards the map's structure: the session thread changes it,
  // stats() reads it from the application. Never held while calling into a
  // webrtcbin or posting.
  std::mutex peers_lock_;
  std::map<guint, std::unique_ptr<PeerConnection>> peers_;

  // Promises given to webrtcbins and not replied yet, reffed.
  std::mutex promises_lock_;
  std::vector<std::pair<GstElement *, GstPromise *>> promises_;

  // Guards context_ against post() from webrtcbin's threads during stop().
  std::mutex context_lock_;
  GMainContext *context_ = nullptr;
  std::thread::id thread_id_;
  GMainLoop *loop_ = nullptr;
  std::thread thread_;
};

}  // namespace p2pcall
