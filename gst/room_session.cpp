#include "room_session.h"

#include "protocol.h"
#include "sdp_fixups.h"
#include "webrtc_stats.h"

#include <gst/webrtc/webrtc.h>

#include <ifaddrs.h>
#include <net/if.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>

#define GST_CAT_DEFAULT category_

namespace p2pcall {

namespace {

// How long a user-joined waits for the newcomer's peer-state (its clientId)
// before it is taken for a new member and offered to.
constexpr guint kClientIdWaitMs = 1000;
// After a rejoin, peers of the old session that have not come back by then
// are removed.
constexpr guint kRejoinGraceMs = 15000;
// How long a connection started over waits for the answer to the offer on
// the connection it replaces (see stale_answers_).
constexpr guint kStaleAnswerWaitMs = 5000;
// How long stats() waits for a webrtcbin's statistics.
constexpr gint64 kStatsWaitUs = 2 * G_USEC_PER_SEC;

std::string
random_client_id ()
{
  g_autofree char *uuid = g_uuid_string_random ();
  return uuid;
}

// libnice leaves loopback out when it gathers; on a host with nothing else
// (a container, a test namespace) calls between local peers need it.
bool
host_has_non_loopback_address ()
{
  struct ifaddrs *addrs = nullptr;
  if (getifaddrs (&addrs) != 0)
    return true;
  bool found = false;
  for (struct ifaddrs *a = addrs; a && !found; a = a->ifa_next)
    found = a->ifa_addr && (a->ifa_flags & IFF_UP) &&
        !(a->ifa_flags & IFF_LOOPBACK) &&
        (a->ifa_addr->sa_family == AF_INET ||
        a->ifa_addr->sa_family == AF_INET6);
  freeifaddrs (addrs);
  return found;
}

// "stun:host:port" (RTCIceServer) -> "stun://host:port" (webrtcbin).
std::string
to_gst_ice_uri (const std::string & url, const IceServer & server)
{
  std::string scheme = url.substr (0, url.find (':'));
  std::string rest = url.substr (scheme.size () + 1);
  if (rest.rfind ("//", 0) == 0)
    rest = rest.substr (2);
  if (scheme != "turn" && scheme != "turns")
    return scheme + "://" + rest;
  // webrtcbin parses user:pass@ itself: both parts must be escaped.
  g_autofree char *user = g_uri_escape_string (server.username.c_str (),
      nullptr, FALSE);
  g_autofree char *pass = g_uri_escape_string (server.credential.c_str (),
      nullptr, FALSE);
  return scheme + "://" + user + ":" + pass + "@" + rest;
}

struct GstObjectUnref {
  void operator() (gpointer obj) const { gst_object_unref (obj); }
};
using ElementPtr = std::unique_ptr<GstElement, GstObjectUnref>;

}  // namespace

struct RoomSession::PeerConnection {
  std::string remote_id;        // the server's id, changes on rejoins
  std::string client_id;        // stable across rejoins, may be empty
  std::string name;
  std::string label;            // remote_id when it was created
  ElementPtr webrtcbin;
  std::unique_ptr<PeerMedia> media;
  bool remote_description_set = false;
  bool offering = false;        // made to offer (not from the peer's offer)
  bool awaiting_answer = false; // we offered, no answer yet
  bool answered = false;        // the answer to our offer came (maybe unset)
  std::string offered_as;       // our id then: after a rejoin none comes
  std::string remote_session_id;        // o= of the peer's descriptions
  bool confirmed = true;        // seen again since the last rejoin
  GstWebRTCPeerConnectionState state = GST_WEBRTC_PEER_CONNECTION_STATE_NEW;
  std::vector<std::pair<unsigned, std::string>> pending_candidates;
  // The peer's offer this connection was made from, and the candidates that
  // came with it, until we answer: a change that starts our connections
  // over before then answers it afresh (renegotiate_all).
  std::string unanswered_offer;
  std::vector<std::pair<unsigned, std::string>> offer_candidates;
  bool relay_candidate = false; // a TURN allocation gave us one
  // For the bitrate in stats(): bytes at the previous reading.
  guint64 last_bytes = 0;
  gint64 last_bytes_time = 0;
};

RoomSession::RoomSession (RoomSessionHost &host, GstDebugCategory *category)
  : host_ (host), log_object_ (GST_OBJECT (host.peer_bin ())),
    category_ (category), client_id_ (random_client_id ())
{
}

RoomSession::~RoomSession ()
{
  stop ();
}

namespace {

// Runs @fn once when @source dispatches on @context.
void
attach_once (GSource *source, GMainContext *context, std::function<void ()> fn)
{
  g_source_set_callback (source, +[] (gpointer data) -> gboolean {
        (*static_cast<std::function<void ()> *> (data)) ();
        return G_SOURCE_REMOVE;
      }, new std::function<void ()> (std::move (fn)), +[] (gpointer data) {
        delete static_cast<std::function<void ()> *> (data);
      });
  g_source_attach (source, context);
}

}  // namespace

bool
RoomSession::post (std::function<void ()> fn)
{
  std::lock_guard<std::mutex> lock (context_lock_);
  if (!context_)
    return false;
  GSource *source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  attach_once (source, context_, std::move (fn));
  g_source_unref (source);
  return true;
}

// On the session thread only. The returned source is owned by the caller,
// who destroys and unrefs it.
GSource *
RoomSession::post_later (guint ms, std::function<void ()> fn)
{
  GSource *source = g_timeout_source_new (ms);
  attach_once (source, context_, std::move (fn));
  return source;
}

SignallingEvents
RoomSession::events ()
{
  SignallingEvents ev;
  ev.joined = [this] (auto &id, auto &peers, auto &ice) {
    on_joined (id, peers, ice);
  };
  ev.peer_joined = [this] (auto &peer) { on_peer_joined (peer); };
  ev.peer_left = [this] (auto &id) { on_peer_left (id); };
  ev.peer_state = [this] (auto &id, auto &cid, bool receive_only) {
    on_peer_state (id, cid, receive_only);
  };
  ev.description = [this] (auto &id, auto &type, auto &sdp) {
    on_description (id, type, sdp);
  };
  ev.candidate = [this] (auto &id, unsigned mline, auto &cand) {
    on_candidate (id, mline, cand);
  };
  ev.error = [this] (bool fatal, auto &code, auto &message) {
    on_error (fatal, code, message);
  };
  ev.connection_lost = [this] {
    GST_WARNING_OBJECT (log_object_, "lost the signalling server, reconnecting");
    post_element_message (gst_structure_new ("p2pcall-signalling-lost",
            "server", G_TYPE_STRING, config_.server.c_str (), nullptr));
  };
  return ev;
}

void
RoomSession::start (const SessionConfig &config)
{
  stop ();
  config_ = config;
  {
    std::lock_guard<std::mutex> lock (context_lock_);
    context_ = g_main_context_new ();
    loop_ = g_main_loop_new (context_, FALSE);
  }
  signalling_ = make_signalling ();
  thread_ = std::thread ([this] {
        g_main_context_push_thread_default (context_);
        g_main_loop_run (loop_);
        g_main_context_pop_thread_default (context_);
      });
  thread_id_ = thread_.get_id ();
  post ([this] {
        signalling_->start ({config_.server, config_.room, config_.peer_name,
              config_.token, config_.ca_file}, context_, events ());
      });
}

void
RoomSession::stop ()
{
  if (!thread_.joinable ())
    return;
  post ([this] {
        signalling_->stop ();
        for (auto &[id, source] : pending_joins_) {
          g_source_destroy (source);
          g_source_unref (source);
        }
        pending_joins_.clear ();
        for (auto &[id, wait] : stale_answers_) {
          g_source_destroy (wait.second);
          g_source_unref (wait.second);
        }
        stale_answers_.clear ();
        if (grace_source_) {
          g_source_destroy (grace_source_);
          g_clear_pointer (&grace_source_, g_source_unref);
        }
        g_main_loop_quit (loop_);
      });
  thread_.join ();

  // The session thread is gone: the peers are ours alone now.
  std::map<guint, std::unique_ptr<PeerConnection>> peers;
  {
    std::lock_guard<std::mutex> lock (peers_lock_);
    peers.swap (peers_);
  }
  for (auto &[key, pc] : peers)
    teardown (*pc);
  peers.clear ();
  signalling_.reset ();

  GMainContext *context;
  {
    std::lock_guard<std::mutex> lock (context_lock_);
    context = context_;
    context_ = nullptr;
  }
  // Drops callbacks still queued by webrtcbins that are gone now.
  g_main_loop_unref (loop_);
  loop_ = nullptr;
  g_main_context_unref (context);
  known_client_ids_.clear ();
  deferred_offers_.clear ();
  deferred_answers_.clear ();
  receive_only_peers_.clear ();
  idle_peers_.clear ();
  joined_before_ = false;
  self_id_.clear ();
}

void
RoomSession::run_sync (std::function<void ()> change, bool renegotiate)
{
  if (!thread_.joinable ()) {
    change ();
    return;
  }
  if (std::this_thread::get_id () == thread_id_) {
    renegotiate ? renegotiate_all (change) : change ();
    return;
  }
  std::mutex lock;
  std::condition_variable cond;
  bool done = false;
  bool posted = post ([&] {
        renegotiate ? renegotiate_all (change) : change ();
        std::lock_guard<std::mutex> guard (lock);
        done = true;
        cond.notify_one ();
      });
  if (!posted) {
    change ();
    return;
  }
  std::unique_lock<std::mutex> guard (lock);
  cond.wait (guard, [&] { return done; });
}

void
RoomSession::set_latency_ms (int latency_ms)
{
  config_.latency_ms = latency_ms;
}

// On the session thread. webrtcbin in 1.22 cannot be relied on to add a
// sending or receiving part to a connection that was negotiated without it,
// so the member starts each connection over, as the offerer.
void
RoomSession::renegotiate_all (const std::function<void ()> &change)
{
  std::vector<PeerConnection *> all;
  {
    std::lock_guard<std::mutex> lock (peers_lock_);
    for (auto &[key, pc] : peers_)
      all.push_back (pc.get ());
  }
  std::vector<std::pair<std::string, std::string>> again;
  std::vector<std::pair<std::string, std::string>> idle (idle_peers_.begin (),
      idle_peers_.end ());
  idle_peers_.clear ();
  // A peer whose offer we have not answered yet is waiting for that answer
  // and takes no other offer from us (when the offers collided we are the
  // polite one): answer it once the change is made, as it stands then.
  std::vector<DeferredAnswer> unanswered;
  for (PeerConnection *pc : all) {
    if (pc->confirmed && !pc->unanswered_offer.empty ()) {
      unanswered.push_back ({pc->remote_id, pc->unanswered_offer,
              pc->offer_candidates});
      known_client_ids_[pc->remote_id] = pc->client_id;
    } else if (pc->confirmed && pc->awaiting_answer &&
        self_id_ == pc->offered_as && !stale_answers_.count (pc->remote_id)) {
      std::string id = pc->remote_id;
      stale_answers_[id] = {pc->client_id, post_later (kStaleAnswerWaitMs,
              [this, id] {
                auto it = stale_answers_.find (id);
                if (it == stale_answers_.end ())
                  return;
                std::string client_id = it->second.first;
                g_source_unref (it->second.second);
                stale_answers_.erase (it);
                offer_anew (id, client_id);
              })};
    } else if (pc->confirmed && !stale_answers_.count (pc->remote_id)) {
      again.emplace_back (pc->remote_id, pc->client_id);
    }
    remove_peer (pc, true);
  }
  change ();
  // Members we had no connection with because neither sent, and those we
  // had one with but now neither sends.
  again.insert (again.end (), idle.begin (), idle.end ());
  if (receive_only ()) {
    auto both_receive = [this] (auto &p) {
      if (!receive_only_peers_.count (p.first))
        return false;
      idle_peers_[p.first] = p.second;
      return true;
    };
    again.erase (std::remove_if (again.begin (), again.end (), both_receive),
        again.end ());
  }
  if (self_id_.empty ())
    return;     // not in the room yet: joining sends what we have
  send_peer_state ();
  GST_INFO_OBJECT (log_object_, "what this member sends or receives changed: "
      "offering anew to %zu peer(s), answering %zu", again.size (),
      unanswered.size ());
  for (auto &[id, client_id] : again)
    offer_anew (id, client_id);
  for (const DeferredAnswer &d : unanswered)
    answer (d);
}

void
RoomSession::answer (const DeferredAnswer &d)
{
  on_description (d.peer_id, protocol::kOffer, d.sdp);
  for (auto &[mline, candidate] : d.candidates)
    on_candidate (d.peer_id, mline, candidate);
}

// A new connection to @peer_id, as the offerer. The peer connection gets
// its media when it is made, so it is made once every input has caps (a
// video input still without them would be left out of the offer for good).
void
RoomSession::offer_anew (const std::string &peer_id,
    const std::string &client_id)
{
  if (find_by_id (peer_id))
    return;
  if (!host_.media_ready ()) {
    deferred_offers_.emplace_back (peer_id, client_id);
    return;
  }
  if (PeerConnection *pc = create_peer (peer_id, client_id, {}, nullptr))
    create_offer (*pc);
}

void
RoomSession::media_ready_changed ()
{
  post ([this] {
        if (!host_.media_ready ())
          return;
        std::vector<std::pair<std::string, std::string>> waiting;
        waiting.swap (deferred_offers_);
        for (auto &[id, client_id] : waiting) {
          if (find_by_id (id))
            continue;
          if (PeerConnection *pc = create_peer (id, client_id, {}, nullptr))
            create_offer (*pc);
        }
        std::vector<DeferredAnswer> answers;
        answers.swap (deferred_answers_);
        for (const DeferredAnswer &d : answers)
          answer (d);
      });
}

// ---------------------------------------------------------------------------
// Room events, on the session thread

void
RoomSession::on_joined (const std::string &self_id,
    const std::vector<RemotePeer> &peers,
    const std::vector<IceServer> &ice_servers)
{
  bool rejoin = joined_before_;
  joined_before_ = true;
  self_id_ = self_id;
  ice_servers_ = ice_servers;
  GST_INFO_OBJECT (log_object_, "%s room '%s' as %s with %zu other members",
      rejoin ? "rejoined" : "joined", config_.room.c_str (), self_id.c_str (),
      peers.size ());

  for (auto &[id, source] : pending_joins_) {
    g_source_destroy (source);
    g_source_unref (source);
  }
  pending_joins_.clear ();
  known_client_ids_.clear ();

  if (rejoin) {
    std::lock_guard<std::mutex> lock (peers_lock_);
    for (auto &[key, pc] : peers_)
      pc->confirmed = false;
  }
  // Members already here offer to us; remember who is who for then.
  receive_only_peers_.clear ();
  idle_peers_.clear ();
  for (const RemotePeer &peer : peers) {
    known_client_ids_[peer.id] = peer.client_id;
    // (A member that skips us because neither sends is the one that offers
    // once either does: the one in the room first, as always.)
    if (peer.receive_only)
      receive_only_peers_.insert (peer.id);
    PeerConnection *pc = find_by_client_id (peer.client_id);
    if (pc) {
      GST_INFO_OBJECT (log_object_, "peer %s is back as %s",
          pc->remote_id.c_str (), peer.id.c_str ());
      std::lock_guard<std::mutex> lock (peers_lock_);
      pc->remote_id = peer.id;
      pc->confirmed = true;
    }
  }
  if (rejoin && !grace_source_)
    grace_source_ = post_later (kRejoinGraceMs, [this] {
          g_clear_pointer (&grace_source_, g_source_unref);
          remove_unconfirmed ();
        });

  send_peer_state ();
  post_element_message (gst_structure_new ("p2pcall-joined",
          "room-id", G_TYPE_STRING, config_.room.c_str (),
          "peer-id", G_TYPE_STRING, self_id.c_str (),
          "client-id", G_TYPE_STRING, client_id_.c_str (),
          "rejoin", G_TYPE_BOOLEAN, rejoin, nullptr));
}

void
RoomSession::remove_unconfirmed ()
{
  std::vector<PeerConnection *> gone;
  {
    std::lock_guard<std::mutex> lock (peers_lock_);
    for (auto &[key, pc] : peers_)
      if (!pc->confirmed)
        gone.push_back (pc.get ());
  }
  for (PeerConnection *pc : gone) {
    GST_INFO_OBJECT (log_object_, "peer %s did not come back",
        pc->remote_id.c_str ());
    remove_peer (pc, true);
  }
}

void
RoomSession::on_peer_joined (const RemotePeer &peer)
{
  if (pending_joins_.count (peer.id) || find_by_id (peer.id))
    return;
  // The newcomer sends its peer-state right after joining: wait for it to
  // tell a member coming back (same clientId) from a new one.
  std::string id = peer.id;
  pending_joins_[id] = post_later (kClientIdWaitMs, [this, id] {
        resolve_join (id, {});
      });
}

bool
RoomSession::receive_only () const
{
  return !host_.sends_audio () && !host_.sends_video ();
}

void
RoomSession::send_peer_state ()
{
  signalling_->send_peer_state (host_.sends_audio (), host_.sends_video (),
      client_id_, receive_only ());
}

void
RoomSession::on_peer_state (const std::string &peer_id,
    const std::string &client_id, bool receive_only)
{
  if (receive_only)
    receive_only_peers_.insert (peer_id);
  else
    receive_only_peers_.erase (peer_id);
  auto idle = idle_peers_.find (peer_id);
  if (idle != idle_peers_.end () && !receive_only) {
    // It sends now: we skipped it (we were here first), so we offer.
    std::string id = idle->second.empty () ? client_id : idle->second;
    idle_peers_.erase (idle);
    offer_anew (peer_id, id);
  }
  if (client_id.empty ())
    return;
  known_client_ids_[peer_id] = client_id;
  if (pending_joins_.count (peer_id)) {
    resolve_join (peer_id, client_id);
    return;
  }
  PeerConnection *pc = find_by_id (peer_id);
  if (!pc)
    pc = find_by_client_id (client_id);
  if (pc) {
    std::lock_guard<std::mutex> lock (peers_lock_);
    pc->remote_id = peer_id;
    pc->client_id = client_id;
    pc->confirmed = true;
  }
}

void
RoomSession::resolve_join (const std::string &peer_id,
    const std::string &client_id)
{
  auto it = pending_joins_.find (peer_id);
  if (it == pending_joins_.end ())
    return;
  g_source_destroy (it->second);
  g_source_unref (it->second);
  pending_joins_.erase (it);

  if (PeerConnection *pc = find_by_client_id (client_id)) {
    GST_INFO_OBJECT (log_object_, "peer %s rejoined as %s, keeping its "
        "connection", pc->remote_id.c_str (), peer_id.c_str ());
    std::lock_guard<std::mutex> lock (peers_lock_);
    pc->remote_id = peer_id;
    pc->confirmed = true;
    return;
  }
  // We were here first: we offer, unless neither of us sends anything.
  if (receive_only () && receive_only_peers_.count (peer_id)) {
    GST_INFO_OBJECT (log_object_, "no connection with %s: neither sends",
        peer_id.c_str ());
    idle_peers_[peer_id] = client_id;
    return;
  }
  offer_anew (peer_id, client_id);
}

void
RoomSession::on_description (const std::string &peer_id,
    const std::string &type, const std::string &sdp_text)
{
  GstSDPMessage *sdp = nullptr;
  gst_sdp_message_new_from_text (sdp_text.c_str (), &sdp);
  if (!sdp) {
    GST_WARNING_OBJECT (log_object_, "unparsable %s from %s", type.c_str (),
        peer_id.c_str ());
    return;
  }
  GST_LOG_OBJECT (log_object_, "%s's %s:\n%s", peer_id.c_str (),
      type.c_str (), sdp_text.c_str ());
  complete_rejected_mlines (sdp);
  PeerConnection *pc = find_by_id (peer_id);
  const GstSDPOrigin *origin = gst_sdp_message_get_origin (sdp);
  std::string session_id = origin && origin->sess_id ? origin->sess_id : "";
  if (pc && type == protocol::kOffer) {
    // Not a renegotiation but a new connection (PROTOCOL.md): the peer
    // started over, for instance because what it sends changed.
    bool new_session = !pc->remote_session_id.empty () &&
        session_id != pc->remote_session_id;
    // Or both started a connection over at once (glare). As in perfect
    // negotiation (PROTOCOL.md "Who offers"): the member whose id sorts
    // first is polite and takes the other's offer; the other keeps its own
    // and drops the one that collided.
    // An offer that follows the answer to ours is not one: webrtcbin sets
    // the two in turn (the answer may not be set yet).
    bool glare = !new_session && pc->offering && !pc->answered &&
        !pc->remote_description_set;
    if (glare && self_id_ > peer_id) {
      GST_INFO_OBJECT (log_object_, "%s's offer collides with ours: ours "
          "stands", peer_id.c_str ());
      gst_sdp_message_free (sdp);
      return;
    }
    if (new_session || glare) {
      GST_INFO_OBJECT (log_object_, "%s offers a new connection%s: replacing "
          "ours", peer_id.c_str (), glare ? " colliding with ours" : "");
      std::string client_id = pc->client_id;
      remove_peer (pc, true);
      known_client_ids_[peer_id] = client_id;
      pc = nullptr;
    }
  }
  auto stale = stale_answers_.find (peer_id);
  if (!pc && type == protocol::kOffer && stale != stale_answers_.end ()) {
    // We started over while our offer was unanswered, and wait for that
    // answer: an offer that comes first crossed ours, the same collision
    // as above. Polite, we take it and no answer will come.
    if (self_id_ > peer_id) {
      GST_INFO_OBJECT (log_object_, "%s's offer collides with the one we "
          "wait an answer to: ours stands", peer_id.c_str ());
      gst_sdp_message_free (sdp);
      return;
    }
    GST_INFO_OBJECT (log_object_, "%s's offer collides with the one we wait "
        "an answer to: taking theirs", peer_id.c_str ());
    known_client_ids_[peer_id] = stale->second.first;
    g_source_destroy (stale->second.second);
    g_source_unref (stale->second.second);
    stale_answers_.erase (stale);
  }
  if (pc)
    pc->remote_session_id = session_id;
  if (type == protocol::kAnswer) {
    if (!pc && stale != stale_answers_.end ()) {
      // For the connection we replaced: now the new one can be offered.
      std::string client_id = stale->second.first;
      g_source_destroy (stale->second.second);
      g_source_unref (stale->second.second);
      stale_answers_.erase (stale);
      gst_sdp_message_free (sdp);
      offer_anew (peer_id, client_id);
      return;
    }
    if (pc) {
      pc->awaiting_answer = false;
      pc->answered = true;
      warn_rejected_media (*pc, sdp);
      apply_remote (*pc, GST_WEBRTC_SDP_TYPE_ANSWER, sdp);
    } else
      gst_sdp_message_free (sdp);
    return;
  }
  if (!pc && !host_.media_ready ()) {
    // Answered now, the answer would lack the inputs without caps yet.
    GST_INFO_OBJECT (log_object_, "answering %s once every input has caps",
        peer_id.c_str ());
    auto it = std::find_if (deferred_answers_.begin (),
        deferred_answers_.end (), [&] (auto &d) { return d.peer_id == peer_id; });
    if (it == deferred_answers_.end ())
      deferred_answers_.push_back ({peer_id, sdp_text, {}});
    else
      *it = {peer_id, sdp_text, {}};
    gst_sdp_message_free (sdp);
    return;
  }
  if (!pc) {
    std::string client_id = known_client_ids_[peer_id];
    // A member we knew starts over with a fresh offer: its old connection
    // is dead on its side, replace it.
    if (PeerConnection *old = find_by_client_id (client_id))
      remove_peer (old, false);
    pc = create_peer (peer_id, client_id, {}, sdp);
    if (!pc) {
      gst_sdp_message_free (sdp);
      return;
    }
    pc->remote_session_id = session_id;
    pc->unanswered_offer = sdp_text;
  }
  apply_remote (*pc, GST_WEBRTC_SDP_TYPE_OFFER, sdp);
}

// The media a peer's answer refused (refused_media), named in a warning:
// nothing shows up there on its side.
void
RoomSession::warn_rejected_media (const PeerConnection &pc,
    const GstSDPMessage *answer)
{
  GstWebRTCSessionDescription *offer = nullptr;
  g_object_get (pc.webrtcbin.get (), "local-description", &offer, nullptr);
  if (!offer)
    return;
  for (const RefusedMedia &refused : refused_media (offer->sdp, answer)) {
    g_autofree char *text = g_strdup_printf ("Peer %s refused our %s (%s): "
        "it decodes none of these codecs.", pc.remote_id.c_str (),
        refused.media.c_str (), refused.codecs.c_str ());
    g_autofree char *debug = g_strdup_printf ("m-line %u rejected in the "
        "answer", refused.index);
    element_message (GST_MESSAGE_WARNING, GST_STREAM_ERROR,
        GST_STREAM_ERROR_CODEC_NOT_FOUND, text, debug);
  }
  gst_webrtc_session_description_free (offer);
}

void
RoomSession::on_candidate (const std::string &peer_id, unsigned mline,
    const std::string &candidate)
{
  PeerConnection *pc = find_by_id (peer_id);
  if (!pc && !candidate.empty ())
    for (DeferredAnswer &d : deferred_answers_)
      if (d.peer_id == peer_id)
        d.candidates.emplace_back (mline, candidate);
  if (!pc || candidate.empty ())
    return;
  if (!pc->unanswered_offer.empty ())
    pc->offer_candidates.emplace_back (mline, candidate);
  if (!pc->remote_description_set)
    pc->pending_candidates.emplace_back (mline, candidate);
  else
    add_candidate (*pc, mline, candidate);
}

void
RoomSession::on_peer_left (const std::string &peer_id)
{
  auto it = pending_joins_.find (peer_id);
  if (it != pending_joins_.end ()) {
    g_source_destroy (it->second);
    g_source_unref (it->second);
    pending_joins_.erase (it);
  }
  deferred_offers_.erase (std::remove_if (deferred_offers_.begin (),
          deferred_offers_.end (), [&] (auto &d) { return d.first == peer_id; }),
      deferred_offers_.end ());
  deferred_answers_.erase (std::remove_if (deferred_answers_.begin (),
          deferred_answers_.end (), [&] (auto &d) {
            return d.peer_id == peer_id;
          }), deferred_answers_.end ());
  auto stale = stale_answers_.find (peer_id);
  if (stale != stale_answers_.end ()) {
    g_source_destroy (stale->second.second);
    g_source_unref (stale->second.second);
    stale_answers_.erase (stale);
  }
  idle_peers_.erase (peer_id);
  receive_only_peers_.erase (peer_id);
  if (PeerConnection *pc = find_by_id (peer_id))
    remove_peer (pc, true);
}

void
RoomSession::on_error (bool fatal, const std::string &code,
    const std::string &message)
{
  if (!fatal) {
    GST_WARNING_OBJECT (log_object_, "server refused a message: %s (%s)",
        message.c_str (), code.c_str ());
    return;
  }
  if (code == "tls")
    element_message (GST_MESSAGE_ERROR, GST_RESOURCE_ERROR,
        GST_RESOURCE_ERROR_OPEN_READ_WRITE, "Could not connect securely to "
        "the signalling server " + config_.server + ": " + message);
  else if (code == "unreachable" || code == "bad-url")
    element_message (GST_MESSAGE_ERROR, GST_RESOURCE_ERROR,
        GST_RESOURCE_ERROR_OPEN_READ_WRITE, "Could not connect to the "
        "signalling server " + config_.server + ".", message);
  else
    element_message (GST_MESSAGE_ERROR, GST_RESOURCE_ERROR,
        GST_RESOURCE_ERROR_SETTINGS, "The signalling server " +
        config_.server + " refused to let us join room '" + config_.room +
        "': " + message, "error code " + code);
}

// ---------------------------------------------------------------------------
// Peer connections

RoomSession::PeerConnection *
RoomSession::find_by_id (const std::string &remote_id)
{
  for (auto &[key, pc] : peers_)
    if (pc->remote_id == remote_id)
      return pc.get ();
  return nullptr;
}

RoomSession::PeerConnection *
RoomSession::find_by_client_id (const std::string &client_id)
{
  if (client_id.empty ())
    return nullptr;
  for (auto &[key, pc] : peers_)
    if (pc->client_id == client_id)
      return pc.get ();
  return nullptr;
}

RoomSession::PeerConnection *
RoomSession::find_by_webrtcbin (GstElement *webrtcbin)
{
  for (auto &[key, pc] : peers_)
    if (pc->webrtcbin.get () == webrtcbin)
      return pc.get ();
  return nullptr;
}

void
RoomSession::configure_webrtcbin (GstElement *webrtcbin)
{
  gst_util_set_object_arg (G_OBJECT (webrtcbin), "bundle-policy",
      "max-bundle");
  // Regular RTCP every second, as browsers send it for video, not every
  // five (rtpsession's default): a NACK or key frame request that cannot
  // go out at once waits for the next regular report, and a retransmission
  // asked for five seconds late is of no use.
  g_signal_connect (webrtcbin, "deep-element-added", G_CALLBACK (+[] (GstBin *,
              GstBin *, GstElement * element, gpointer) {
            GstElementFactory *f = gst_element_get_factory (element);
            if (f && g_str_equal (GST_OBJECT_NAME (f), "rtpsession"))
              g_object_set (element, "rtcp-min-interval",
                  (guint64) GST_SECOND, nullptr);
          }), nullptr);
  if (config_.latency_ms >= 0)
    g_object_set (webrtcbin, "latency", (guint) config_.latency_ms, nullptr);

  std::string stun = config_.stun_server;
  std::vector<std::string> turns;
  if (!config_.turn_server.empty ())
    turns.push_back (config_.turn_server);
  for (const IceServer &server : ice_servers_)
    for (const std::string &url : server.urls) {
      if (url.rfind ("stun:", 0) == 0 && stun.empty ())
        stun = to_gst_ice_uri (url, server);
      else if (url.rfind ("turn", 0) == 0 && config_.turn_server.empty ())
        turns.push_back (to_gst_ice_uri (url, server));
    }
  if (!stun.empty ())
    g_object_set (webrtcbin, "stun-server", stun.c_str (), nullptr);
  turn_hosts_.clear ();
  for (const std::string &turn : turns) {
    const std::string host = turn.substr (turn.find ('@') == std::string::npos ?
        turn.find ("://") + 3 : turn.find ('@') + 1);
    turn_hosts_ += (turn_hosts_.empty () ? "" : ", ") + host;
    gboolean ok = FALSE;
    g_signal_emit_by_name (webrtcbin, "add-turn-server", turn.c_str (), &ok);
    if (!ok)
      GST_WARNING_OBJECT (log_object_, "webrtcbin refused TURN server %s",
          turn.c_str ());
  }
  if (config_.relay_only) {
    gst_util_set_object_arg (G_OBJECT (webrtcbin), "ice-transport-policy",
        "relay");
    if (turns.empty ())
      element_message (GST_MESSAGE_WARNING, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_SETTINGS, "ice-transport-policy is relay but no "
          "TURN server is known: set turn-server or start the signalling "
          "server with --turn-server.");
  }

  std::vector<std::string> addresses = config_.ice_addresses;
  if (addresses.empty () && !host_has_non_loopback_address ())
    addresses.push_back ("127.0.0.1");
  if (!addresses.empty ()) {
    GObject *ice = nullptr;
    g_object_get (webrtcbin, "ice-agent", &ice, nullptr);
    for (const std::string &address : addresses) {
      gboolean ok = FALSE;
      g_signal_emit_by_name (ice, "add-local-ip-address", address.c_str (),
          &ok);
      if (!ok)
        GST_WARNING_OBJECT (log_object_, "ICE agent refused local address %s",
            address.c_str ());
    }
    g_clear_object (&ice);
  }
}

// webrtcbin notifies on its own thread; the webrtcbin is held until the
// session thread has seen it.
template <void (RoomSession::*Handler) (GstElement *)>
void
RoomSession::on_session_thread (GstElement *webrtcbin, GParamSpec *,
    RoomSession *self)
{
  gst_object_ref (webrtcbin);
  self->post ([self, webrtcbin] {
        (self->*Handler) (webrtcbin);
        gst_object_unref (webrtcbin);
      });
}

RoomSession::PeerConnection *
RoomSession::create_peer (const std::string &remote_id,
    const std::string &client_id, const std::string &name,
    const GstSDPMessage *offer)
{
  GstElement *webrtcbin = gst_element_factory_make ("webrtcbin", nullptr);
  if (!webrtcbin) {
    element_message (GST_MESSAGE_ERROR, GST_CORE_ERROR,
        GST_CORE_ERROR_MISSING_PLUGIN, "The webrtcbin element is missing.");
    return nullptr;
  }
  auto pc = std::make_unique<PeerConnection> ();
  pc->remote_id = remote_id;
  pc->client_id = client_id;
  pc->name = name;
  pc->label = remote_id;
  pc->webrtcbin.reset (GST_ELEMENT (gst_object_ref_sink (webrtcbin)));
  configure_webrtcbin (webrtcbin);

  g_signal_connect (webrtcbin, "on-ice-candidate",
      G_CALLBACK (+[] (GstElement * wb, guint mline, gchar * cand,
              RoomSession * self) {
            std::string candidate = cand;
            gst_object_ref (wb);
            self->post ([self, wb, mline, candidate] {
                  PeerConnection *pc = self->find_by_webrtcbin (wb);
                  if (pc) {
                    pc->relay_candidate |=
                        candidate.find (" typ relay") != std::string::npos;
                    self->signalling_->send_candidate (pc->remote_id, mline,
                        candidate);
                  }
                  gst_object_unref (wb);
                });
          }), this);
  g_signal_connect (webrtcbin, "notify::ice-gathering-state",
      G_CALLBACK (on_session_thread<&RoomSession::on_gathering_state>),
      this);
  g_signal_connect (webrtcbin, "notify::connection-state",
      G_CALLBACK (on_session_thread<&RoomSession::on_connection_state>),
      this);

  gst_bin_add (host_.peer_bin (), webrtcbin);
  gst_element_sync_state_with_parent (webrtcbin);
  pc->media = host_.attach_media (webrtcbin, pc->label, offer);

  PeerConnection *raw = pc.get ();
  {
    std::lock_guard<std::mutex> lock (peers_lock_);
    peers_[next_key_++] = std::move (pc);
  }
  GST_INFO_OBJECT (log_object_, "new peer connection with %s (client %s)",
      remote_id.c_str (), client_id.c_str ());
  post_peer_message ("p2pcall-peer-joined", *raw);
  return raw;
}

void
RoomSession::remove_peer (PeerConnection *pc, bool announce)
{
  std::unique_ptr<PeerConnection> owned;
  {
    std::lock_guard<std::mutex> lock (peers_lock_);
    for (auto it = peers_.begin (); it != peers_.end (); ++it)
      if (it->second.get () == pc) {
        owned = std::move (it->second);
        peers_.erase (it);
        break;
      }
  }
  if (!owned)
    return;
  GST_INFO_OBJECT (log_object_, "removing peer connection with %s",
      owned->remote_id.c_str ());
  teardown (*owned);
  if (announce)
    post_peer_message ("p2pcall-peer-left", *owned);
}

void
RoomSession::teardown (PeerConnection &pc)
{
  GstElement *webrtcbin = pc.webrtcbin.get ();
  g_signal_handlers_disconnect_by_data (webrtcbin, this);
  // Nothing may flow into a webrtcbin that stops: a sink's branch would
  // return FLUSHING to its tee, and the tee to the encoder, which would stop
  // sending to every other peer for good.
  host_.unlink_media (pc.media.get ());
  // Then webrtcbin, before the rest: while the pipeline goes to PAUSED, its
  // sinks hold the sender's queue thread in preroll, and stopping that queue
  // would wait for it forever (a member leaving as the pipeline stops
  // deadlocked).
  gst_element_set_locked_state (webrtcbin, TRUE);
  gst_element_set_state (webrtcbin, GST_STATE_NULL);
  expire_promises (webrtcbin);
  host_.detach_media (webrtcbin, pc.media.get ());
  pc.media.reset ();
  gst_bin_remove (host_.peer_bin (), webrtcbin);
}

// ---------------------------------------------------------------------------
// Negotiation. webrtcbin answers its promises on its own thread: replies are
// posted back to the session thread, where peers are looked up again.

namespace {

using PromiseReply =
    std::function<void (RoomSession *, GstElement *, const GstStructure *)>;

struct PromiseTarget {
  RoomSession *session;
  ElementPtr webrtcbin;
  PromiseReply fn;
};

}  // namespace

// A promise for @webrtcbin whose reply @fn gets on the session thread.
GstPromise *
RoomSession::reply_promise (GstElement *webrtcbin,
    std::function<void (RoomSession *, GstElement *, const GstStructure *)> fn)
{
  auto target = new PromiseTarget { this,
    ElementPtr (GST_ELEMENT (gst_object_ref (webrtcbin))), std::move (fn) };
  GstPromise *promise = gst_promise_new_with_change_func (
      +[] (GstPromise * promise, gpointer data) {
        auto t = static_cast<PromiseTarget *> (data);
        t->session->untrack_promise (promise);
        // Expired: its webrtcbin went away with the peer, nothing to do.
        if (gst_promise_wait (promise) != GST_PROMISE_RESULT_REPLIED)
          return;
        const GstStructure *reply = gst_promise_get_reply (promise);
        GstStructure *copy = reply ? gst_structure_copy (reply) : nullptr;
        GstElement *wb = GST_ELEMENT (gst_object_ref (t->webrtcbin.get ()));
        auto fn = t->fn;
        RoomSession *self = t->session;
        self->post ([self, wb, copy, fn] {
              fn (self, wb, copy);
              if (copy)
                gst_structure_free (copy);
              gst_object_unref (wb);
            });
      }, target, +[] (gpointer data) {
        delete static_cast<PromiseTarget *> (data);
      });
  return track_promise (webrtcbin, promise);
}

// webrtcbin 1.22 drops the operations still queued when it stops, with
// their promises, unreplied: a waiter would wait for ever, and the promise
// is freed while pending (a critical). The session keeps a reference to
// each promise in flight and expires those of a webrtcbin it stops.
GstPromise *
RoomSession::track_promise (GstElement *webrtcbin, GstPromise *promise)
{
  std::lock_guard<std::mutex> lock (promises_lock_);
  promises_.emplace_back (webrtcbin, gst_promise_ref (promise));
  return promise;
}

void
RoomSession::untrack_promise (GstPromise *promise)
{
  GstPromise *tracked = nullptr;
  {
    std::lock_guard<std::mutex> lock (promises_lock_);
    for (auto it = promises_.begin (); it != promises_.end (); ++it)
      if (it->second == promise) {
        tracked = it->second;
        promises_.erase (it);
        break;
      }
  }
  if (tracked)
    gst_promise_unref (tracked);
}

void
RoomSession::expire_promises (GstElement *webrtcbin)
{
  std::vector<GstPromise *> pending;
  {
    std::lock_guard<std::mutex> lock (promises_lock_);
    for (auto it = promises_.begin (); it != promises_.end ();)
      if (it->first == webrtcbin) {
        pending.push_back (it->second);
        it = promises_.erase (it);
      } else {
        ++it;
      }
  }
  for (GstPromise *promise : pending) {
    gst_promise_expire (promise);
    gst_promise_unref (promise);
  }
}

void
RoomSession::create_offer (PeerConnection &pc)
{
  pc.offering = true;
  GST_DEBUG_OBJECT (log_object_, "creating offer for %s", pc.remote_id.c_str ());
  GstPromise *promise = reply_promise (pc.webrtcbin.get (),
      [] (RoomSession * self, GstElement * wb, const GstStructure * reply) {
        self->on_local_description (wb, GST_WEBRTC_SDP_TYPE_OFFER, reply);
      });
  g_signal_emit_by_name (pc.webrtcbin.get (), "create-offer", nullptr,
      promise);
  gst_promise_unref (promise);
}

// What webrtcbin 1.22 gets wrong in an answer for the peers we meet
// (sdp_fixups.h says why for each).
void
RoomSession::fix_up_answer (GstElement *webrtcbin, GstSDPMessage *answer)
{
  GstWebRTCSessionDescription *local = nullptr, *remote = nullptr,
      *offer = nullptr;
  g_object_get (webrtcbin, "current-local-description", &local,
      "current-remote-description", &remote, "remote-description", &offer,
      nullptr);
  keep_dtls_role (answer, local ? local->sdp : nullptr,
      remote ? remote->sdp : nullptr);
  if (offer)
    reject_what_the_offer_rejected (answer, offer->sdp);
  if (!host_.receives ())
    refuse_receiving (answer);
  for (GstWebRTCSessionDescription *desc : {local, remote, offer})
    if (desc)
      gst_webrtc_session_description_free (desc);
}

void
RoomSession::on_local_description (GstElement *webrtcbin, GstWebRTCSDPType type,
    const GstStructure *reply)
{
  PeerConnection *pc = find_by_webrtcbin (webrtcbin);
  if (!pc)
    return;
  const char *field = type == GST_WEBRTC_SDP_TYPE_OFFER ? "offer" : "answer";
  GstWebRTCSessionDescription *desc = nullptr;
  if (reply)
    gst_structure_get (reply, field, GST_TYPE_WEBRTC_SESSION_DESCRIPTION,
        &desc, nullptr);
  if (!desc) {
    g_autofree char *text = reply ? gst_structure_to_string (reply) : nullptr;
    GST_WARNING_OBJECT (log_object_, "webrtcbin made no %s for %s: %s", field,
        pc->remote_id.c_str (), GST_STR_NULL (text));
    return;
  }
  if (type == GST_WEBRTC_SDP_TYPE_ANSWER) {
    pc->unanswered_offer.clear ();
    pc->offer_candidates.clear ();
    if (gst_debug_category_get_threshold (category_) >= GST_LEVEL_TRACE) {
      g_autofree char *text = gst_sdp_message_as_text (desc->sdp);
      GST_TRACE_OBJECT (log_object_, "webrtcbin's answer for %s, before "
          "our fix-ups:\n%s", pc->remote_id.c_str (), text);
    }
    fix_up_answer (webrtcbin, desc->sdp);
  }
  g_signal_emit_by_name (webrtcbin, "set-local-description", desc, nullptr);
  if (type == GST_WEBRTC_SDP_TYPE_OFFER) {
    pc->awaiting_answer = true;
    pc->offered_as = self_id_;
  }
  g_autofree char *sdp = gst_sdp_message_as_text (desc->sdp);
  GST_LOG_OBJECT (log_object_, "our %s for %s:\n%s", field,
      pc->remote_id.c_str (), sdp);
  signalling_->send_description (pc->remote_id, field, sdp);
  gst_webrtc_session_description_free (desc);
}

void
RoomSession::apply_remote (PeerConnection &pc, GstWebRTCSDPType type,
    GstSDPMessage *sdp)
{
  GstWebRTCSessionDescription *desc =
      gst_webrtc_session_description_new (type, sdp);
  GstPromise *promise = reply_promise (pc.webrtcbin.get (),
      [type] (RoomSession * self, GstElement * wb, const GstStructure *) {
        PeerConnection *pc = self->find_by_webrtcbin (wb);
        if (!pc)
          return;
        pc->remote_description_set = true;
        auto pending = std::move (pc->pending_candidates);
        pc->pending_candidates.clear ();
        for (auto &[mline, cand] : pending)
          self->add_candidate (*pc, mline, cand);
        if (type != GST_WEBRTC_SDP_TYPE_OFFER)
          return;
        GstPromise *answer = self->reply_promise (wb,
            [] (RoomSession * s, GstElement * w, const GstStructure * reply) {
              s->on_local_description (w, GST_WEBRTC_SDP_TYPE_ANSWER, reply);
            });
        g_signal_emit_by_name (wb, "create-answer", nullptr, answer);
        gst_promise_unref (answer);
      });
  g_signal_emit_by_name (pc.webrtcbin.get (), "set-remote-description", desc,
      promise);
  gst_promise_unref (promise);
  gst_webrtc_session_description_free (desc);
}

void
RoomSession::add_candidate (PeerConnection &pc, unsigned mline,
    const std::string &candidate)
{
  g_signal_emit_by_name (pc.webrtcbin.get (), "add-ice-candidate", mline,
      candidate.c_str ());
}

// TURN servers refuse a bad or expired credential with nothing webrtcbin
// reports: gathering just ends without a relay candidate. Say so, naming
// the servers, since with ice-transport-policy=relay no call can connect.
void
RoomSession::on_gathering_state (GstElement *webrtcbin)
{
  PeerConnection *pc = find_by_webrtcbin (webrtcbin);
  GstWebRTCICEGatheringState state;
  g_object_get (webrtcbin, "ice-gathering-state", &state, nullptr);
  if (!pc || state != GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE ||
      pc->relay_candidate || turn_hosts_.empty ())
    return;
  element_message (GST_MESSAGE_WARNING, GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_OPEN_READ_WRITE, "No relay candidate from the TURN "
      "server " + turn_hosts_ + " for peer " + pc->remote_id + ": it refused "
      "the credentials (wrong or expired) or cannot be reached.");
}

void
RoomSession::on_connection_state (GstElement *webrtcbin)
{
  PeerConnection *pc = find_by_webrtcbin (webrtcbin);
  if (!pc)
    return;
  GstWebRTCPeerConnectionState state;
  g_object_get (webrtcbin, "connection-state", &state, nullptr);
  if (state == pc->state)
    return;
  {
    std::lock_guard<std::mutex> lock (peers_lock_);
    pc->state = state;
  }
  g_autoptr (GEnumClass) klass = G_ENUM_CLASS (g_type_class_ref (
          GST_TYPE_WEBRTC_PEER_CONNECTION_STATE));
  const char *nick = g_enum_get_value (klass, state)->value_nick;
  GST_INFO_OBJECT (log_object_, "connection with %s: %s", pc->remote_id.c_str (),
      nick);
  post_peer_message ("p2pcall-peer-connection-state", *pc, nick);
  if (state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED)
    host_.peer_connected (pc->media.get ());
  else if (state == GST_WEBRTC_PEER_CONNECTION_STATE_FAILED)
    remove_peer (pc, true);
}

void
RoomSession::post_peer_message (const char *name, const PeerConnection &pc,
    const char *state)
{
  GstStructure *s = gst_structure_new (name,
      "peer-id", G_TYPE_STRING, pc.remote_id.c_str (),
      "client-id", G_TYPE_STRING, pc.client_id.c_str (),
      "label", G_TYPE_STRING, pc.label.c_str (), nullptr);
  if (state)
    gst_structure_set (s, "state", G_TYPE_STRING, state, nullptr);
  post_element_message (s);
}

// Element messages and errors of the member go out through each of its
// elements: an application watches the bus of the pipeline it made.
void
RoomSession::post_element_message (GstStructure *s)
{
  for (GstElement *e : host_.elements ()) {
    gst_element_post_message (e, gst_message_new_element (GST_OBJECT (e),
            gst_structure_copy (s)));
    gst_object_unref (e);
  }
  gst_structure_free (s);
}

void
RoomSession::element_message (GstMessageType type, GQuark domain, gint code,
    const std::string &text, const std::string &debug)
{
  GST_WARNING_OBJECT (log_object_, "%s", text.c_str ());
  for (GstElement *e : host_.elements ()) {
    gst_element_message_full (e, type, domain, code, g_strdup (text.c_str ()),
        debug.empty () ? nullptr : g_strdup (debug.c_str ()), __FILE__,
        GST_FUNCTION, __LINE__);
    gst_object_unref (e);
  }
}

// ---------------------------------------------------------------------------
// Statistics, from the application's thread

GstStructure *
RoomSession::stats ()
{
  struct Reading {
    std::string remote_id, client_id;
    GstWebRTCPeerConnectionState state;
    ElementPtr webrtcbin;
    guint key;
  };
  std::vector<Reading> readings;
  {
    std::lock_guard<std::mutex> lock (peers_lock_);
    for (auto &[key, pc] : peers_)
      readings.push_back ({pc->remote_id, pc->client_id, pc->state,
            ElementPtr (GST_ELEMENT (gst_object_ref (pc->webrtcbin.get ()))),
            key});
  }

  GstStructure *all = gst_structure_new_empty ("application/x-p2pcall-stats");
  for (Reading &r : readings) {
    GstStructure *reply = read_webrtc_stats (r.webrtcbin.get (),
        kStatsWaitUs);
    guint64 bytes = 0;
    gint64 packets_lost = 0;
    double rtt = -1, fraction_lost = 0;
    std::vector<std::string> candidate_types;
    for_each_webrtc_stats (reply, [&] (GstWebRTCStatsType type,
            const GstStructure * st) {
          guint64 b;
          gint64 lost;
          double d;
          const char *candidate_type = gst_structure_get_string (st,
              "candidate-type");
          if (type == GST_WEBRTC_STATS_LOCAL_CANDIDATE && candidate_type &&
              std::find (candidate_types.begin (), candidate_types.end (),
                  candidate_type) == candidate_types.end ())
            candidate_types.push_back (candidate_type);
          if ((type == GST_WEBRTC_STATS_OUTBOUND_RTP &&
                  gst_structure_get_uint64 (st, "bytes-sent", &b)) ||
              (type == GST_WEBRTC_STATS_INBOUND_RTP &&
                  gst_structure_get_uint64 (st, "bytes-received", &b)))
            bytes += b;
          if ((type == GST_WEBRTC_STATS_INBOUND_RTP ||
                  type == GST_WEBRTC_STATS_REMOTE_INBOUND_RTP) &&
              gst_structure_get_int64 (st, "packets-lost", &lost)) {
            // webrtcbin 1.22's inbound packets-lost can say 0 where the
            // RTP source it reads from counted losses: take the larger.
            const GValue *source = type == GST_WEBRTC_STATS_INBOUND_RTP ?
                gst_structure_get_value (st, "gst-rtpsource-stats") : nullptr;
            int source_lost = 0;
            if (source && GST_VALUE_HOLDS_STRUCTURE (source) &&
                gst_structure_get_int (gst_value_get_structure (source),
                    "packets-lost", &source_lost))
              lost = std::max<gint64> (lost, source_lost);
            packets_lost += lost;
          }
          if (type == GST_WEBRTC_STATS_REMOTE_INBOUND_RTP) {
            if (gst_structure_get_double (st, "round-trip-time", &d))
              rtt = std::max (rtt, d);
            if (gst_structure_get_double (st, "fraction-lost", &d))
              fraction_lost = std::max (fraction_lost, d);
          }
        });
    if (reply)
      gst_structure_free (reply);
    // Packets sent again on request (RTX): webrtcbin 1.22's statistics do
    // not count them, its retransmission elements do.
    guint64 rtx_sent = sum_uint_property (r.webrtcbin.get (), "rtprtxsend",
        "num-rtx-packets");
    guint64 rtx_received = sum_uint_property (r.webrtcbin.get (),
        "rtprtxreceive", "num-rtx-assoc-packets");

    guint64 bitrate = 0;
    gint64 now = g_get_monotonic_time ();
    {
      std::lock_guard<std::mutex> lock (peers_lock_);
      auto it = peers_.find (r.key);
      if (it != peers_.end ()) {
        PeerConnection &pc = *it->second;
        if (pc.last_bytes_time && now > pc.last_bytes_time &&
            bytes >= pc.last_bytes)
          bitrate = (bytes - pc.last_bytes) * 8 * G_USEC_PER_SEC /
              (now - pc.last_bytes_time);
        pc.last_bytes = bytes;
        pc.last_bytes_time = now;
      }
    }
    std::sort (candidate_types.begin (), candidate_types.end ());
    std::string local_types;
    for (const std::string &t : candidate_types)
      local_types += (local_types.empty () ? "" : ",") + t;
    g_autoptr (GEnumClass) klass = G_ENUM_CLASS (g_type_class_ref (
            GST_TYPE_WEBRTC_PEER_CONNECTION_STATE));
    GstStructure *peer = gst_structure_new ("p2pcall-peer-stats",
        "local-candidate-types", G_TYPE_STRING, local_types.c_str (),
        "peer-id", G_TYPE_STRING, r.remote_id.c_str (),
        "client-id", G_TYPE_STRING, r.client_id.c_str (),
        "state", G_TYPE_STRING, g_enum_get_value (klass, r.state)->value_nick,
        "bitrate", G_TYPE_UINT64, bitrate,
        "bytes", G_TYPE_UINT64, bytes,
        "round-trip-time", G_TYPE_DOUBLE, rtt,
        "packets-lost", G_TYPE_INT64, packets_lost,
        "retransmitted-packets-sent", G_TYPE_UINT64, rtx_sent,
        "retransmitted-packets-received", G_TYPE_UINT64, rtx_received,
        "fraction-lost", G_TYPE_DOUBLE, fraction_lost, nullptr);
    gst_structure_set (all, ("peer-" + std::to_string (r.key)).c_str (),
        GST_TYPE_STRUCTURE, peer, nullptr);
    gst_structure_free (peer);
  }
  return all;
}

}  // namespace p2pcall
