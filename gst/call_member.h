// One member of a room in this process. A p2pcallsink and a p2pcallsrc with
// the same server, room and peer-name are the two parts of one member: one
// signalling connection, one webrtcbin per remote member carrying both
// directions. The webrtcbins live in a pipeline of the member's own, so
// either element can start or stop first, in one pipeline or in two; media
// crosses between that pipeline and the elements through proxysink /
// proxysrc pairs, with the running time mapped at each crossing.
#pragma once

#include "room_session.h"

#include <gst/gst.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace p2pcall {

// What each part of a member may send and receive on a new connection.
struct MediaPlan {
  bool receive = false;         // the member has a receiving part
  bool sends_audio = false;     // the sending part has audio / video inputs
  bool sends_video = false;
};

// The side of a member one element supplies: p2pcallsink sends,
// p2pcallsrc receives. Called on the member's session thread.
class CallMember;

class MemberPart {
public:
  virtual ~MemberPart () = default;
  virtual bool sends_audio () const { return false; }
  virtual bool sends_video () const { return false; }
  virtual bool media_ready () const { return true; }
  // Adds this part's media to a new peer's @webrtcbin (already in
  // @member's peer_bin(), in its state); see RoomSessionHost::attach_media.
  virtual std::unique_ptr<PeerMedia> attach_media (GstElement * webrtcbin,
      CallMember & member, const std::string & label,
      const GstSDPMessage * offer, const MediaPlan & plan) = 0;
  virtual void unlink_media (PeerMedia *) {}
  virtual void detach_media (GstElement * webrtcbin, CallMember & member,
      PeerMedia * media) = 0;
  virtual void peer_connected (PeerMedia *) {}
};

class CallMember final : public RoomSessionHost {
public:
  enum PartKind { kSender, kReceiver };

  // Makes @element's @part a part of the member for @config's server, room
  // and peer name (elements call it on their way to PAUSED). Elements
  // without a peer name are members of their own. Returns nullptr with
  // @error set when the member already has such a part.
  static std::shared_ptr<CallMember> attach (GstElement * element,
      PartKind kind, MemberPart & part, const SessionConfig & config,
      GstDebugCategory * category, std::string * error);
  // Joins the room, once: parts call it on their way to PLAYING, so that
  // the two parts in one pipeline are both there before anyone is offered
  // to (a part that comes later makes every connection start over).
  void join ();
  // Takes the part away; the last part leaves the room.
  static void detach (std::shared_ptr<CallMember> member, PartKind kind);

  ~CallMember () override;

  // A part's media_ready() may have turned true.
  void media_ready_changed ();
  // A part's inputs changed (a pad added or removed): connections start
  // over with what the member has now.
  void media_changed ();
  GstStructure *stats ();
  // @element's running time minus the member pipeline's, now: add it to
  // what goes from the member pipeline into @element's, subtract it the
  // other way. 0 while @element has no clock.
  GstClockTimeDiff running_time_offset (GstElement * element) const;

  // RoomSessionHost
  bool sends_audio () const override;
  bool sends_video () const override;
  bool media_ready () const override;
  bool receives () const override { return plan ().receive; }
  std::unique_ptr<PeerMedia> attach_media (GstElement * webrtcbin,
      const std::string & label, const GstSDPMessage * offer) override;
  void unlink_media (PeerMedia * media) override;
  void detach_media (GstElement * webrtcbin, PeerMedia * media) override;
  void peer_connected (PeerMedia * media) override;
  GstBin *peer_bin () override { return GST_BIN (pipeline_); }
  std::vector<GstElement *> elements () override;

private:
  struct Part {
    MemberPart *part = nullptr;
    GstElement *element = nullptr;      // reffed while attached
  };

  CallMember (const std::string & key, const SessionConfig & config,
      GstDebugCategory * category);
  static GstBusSyncReply on_bus_message (GstBus * bus, GstMessage * msg,
      gpointer data);
  MediaPlan plan () const;

  const std::string key_;       // empty: not shared
  SessionConfig config_;
  GstElement *pipeline_;
  // parts_lock_ guards parts_; they change on the session thread (see
  // RoomSession::run_sync) and the bus handler reads them from any thread.
  mutable std::mutex parts_lock_;
  Part parts_[2];
  std::unique_ptr<RoomSession> session_;
  bool joined_ = false;         // under registry_lock
};

// A proxysrc for a crossing: its queue (between the two pipelines' threads)
// keeps at most @max_time and drops the oldest beyond, so that a side that
// stalls (a branch held until negotiated, a slow application) holds up
// neither the other side nor the media that comes after.
GstElement *make_crossing_proxysrc (GstClockTime max_time);

// The pads where one element's media crosses between its pipeline and its
// member's. What passes is retimed there into the running time of the side
// it enters: a TIME segment from 0, timestamps that are running times of
// that pipeline (data from before its start is dropped). A pad offset
// would not do: the member's pipeline usually started first, and GStreamer
// cannot apply a negative offset larger than a segment's base. Offsets
// follow clocks and base times: update() when the element goes to PLAYING.
class Crossings {
public:
  enum Direction { kIntoElement = 1, kIntoMember = -1 };
  ~Crossings ();
  void add (GstPad * pad, Direction direction, GstElement * element,
      const CallMember & member);
  void remove (GstPad * pad);
  void update (GstElement * element, const CallMember & member);

  struct Crossing;

private:
  std::mutex lock_;
  std::vector<std::shared_ptr<Crossing>> crossings_;
};

// An element's side of its member: the part it supplies, the member it is
// a part of from READY -> PAUSED to PAUSED -> READY, and the crossings of
// its media. p2pcallsink and p2pcallsrc go through their states with it.
class MemberSlot {
public:
  MemberSlot (CallMember::PartKind kind, std::unique_ptr<MemberPart> part)
    : kind_ (kind), part_ (std::move (part)) {}
  ~MemberSlot () { detach (); }

  // READY -> PAUSED. Posts an error naming the element and returns false
  // when the member refuses it.
  bool attach (GstElement * element, const SessionConfig & config,
      GstDebugCategory * category);
  // PAUSED -> PLAYING: offsets follow the new base time; joins the room.
  void playing (GstElement * element);
  // PAUSED -> READY.
  void detach ();

  std::shared_ptr<CallMember> member ();
  // The member's stats, empty when there is none.
  GstStructure *stats ();
  Crossings crossings;

private:
  const CallMember::PartKind kind_;
  std::unique_ptr<MemberPart> part_;
  std::mutex lock_;             // guards member_
  std::shared_ptr<CallMember> member_;
};

}  // namespace p2pcall
