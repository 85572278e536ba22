// The connection properties p2pcallsink and p2pcallsrc share: installed on
// both classes from one place, stored in a SessionConfig.
#pragma once

#include "room_session.h"

#include <gst/gst.h>

#include <initializer_list>

namespace p2pcall {

enum ConnectionProperty {
  PROP_SERVER = 1,
  PROP_ROOM,
  PROP_PEER_NAME,
  PROP_TOKEN,
  PROP_STUN_SERVER,
  PROP_TURN_SERVER,
  PROP_ICE_ADDRESSES,
  PROP_STATS,
  PROP_CA_FILE,
  PROP_ICE_TRANSPORT_POLICY,
  N_CONNECTION_PROPERTIES
};

inline constexpr const char kDefaultServer[] = "ws://127.0.0.1:8080/ws";

// Which ICE candidates the elements use (GstP2pcallIceTransportPolicy).
enum IceTransportPolicy {
  ICE_TRANSPORT_POLICY_ALL = 0,
  ICE_TRANSPORT_POLICY_RELAY = 1,
};
GType ice_transport_policy_get_type ();

void install_connection_properties (GObjectClass * klass);
// Return false for a property id that is not a connection property.
bool set_connection_property (SessionConfig & config, guint prop_id,
    const GValue * value);
bool get_connection_property (const SessionConfig & config, guint prop_id,
    GValue * value);

}  // namespace p2pcall

namespace p2pcall {

// Posts a clear GST_ELEMENT_ERROR on @element and returns false when the
// room is missing or not a valid room id, or the ca-file cannot be read.
bool check_connection_settings (GstElement * element,
    const SessionConfig & config);
// Posts a missing-element message and an error for each absent factory.
bool check_factories (GstElement * element,
    std::initializer_list<const char *> factories);

}  // namespace p2pcall
