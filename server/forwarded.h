// The client's address behind a reverse proxy (--trusted-proxy): from a
// trusted proxy's connection, the address its Forwarded (RFC 7239) or
// X-Forwarded-For header names; from anyone else, the peer's own, so a
// client cannot pick an address for itself.
#pragma once

#include <gio/gio.h>

#include <memory>
#include <string>
#include <vector>

namespace p2pcall::server {

class TrustedProxies {
public:
  // Each an address or a CIDR range ("127.0.0.1", "10.0.0.0/8", "::1").
  // False and @error naming the bad entry when one is neither.
  bool parse (const std::vector<std::string> & entries, std::string & error);
  bool empty () const { return masks_.empty (); }
  bool trusts (GInetAddress * address) const;

  // The client of a request that came from @peer with these headers (either
  // may be nullptr): walking the proxies' list from the nearest hop, the
  // first address that is not a trusted proxy. A list that cannot be read
  // counts for nothing: the peer's address stands.
  std::string client (GInetAddress * peer, const char *forwarded,
      const char *x_forwarded_for) const;

private:
  // Shared: server options are copied.
  std::vector<std::shared_ptr<GInetAddressMask>> masks_;
};

}  // namespace p2pcall::server
