# SPDX-License-Identifier: Apache-2.0
"""The module configuration tests start from (the directive contract of mod_rtsession)."""
from dataclasses import dataclass


@dataclass
class Client:
    client_id: str
    secret: str
    auth_method: str   # client_secret_basic | client_secret_post


def rts_config(*, op_url: str, memcached: str, ca_file, client: Client, session_secret: str,
               backend_url: str, metadata_url: str | None = None, server_extra: str = "",
               location_extra: str = "", location: str = "/app", refresh_window: int = 60,
               http_timeout: int = 5, issuer: str | None = None) -> str:
    """Server-level RTSession* directives plus a protected <Location> proxied to the echo
    backend. server_extra / location_extra are appended verbatim. issuer: RTSessionIssuer,
    for a metadata URL that is not the issuer's (e.g. through rtstest.faultproxy)."""
    metadata_url = metadata_url or f"{op_url}/.well-known/openid-configuration"
    issuer_line = f"RTSessionIssuer {issuer}\n" if issuer else ""
    return f"""# mod_rtsession standard test config
RTSessionProviderMetadataURL {metadata_url}
{issuer_line}RTSessionClientID {client.client_id}
RTSessionClientSecret {client.secret}
RTSessionRedirectURI /rtsession/callback
RTSessionScope "openid email profile offline_access"
RTSessionTokenEndpointAuth {client.auth_method}
RTSessionMemcached "{memcached}"
RTSessionSecret {session_secret}
RTSessionCAFile "{ca_file}"
RTSessionHTTPTimeout {http_timeout}
RTSessionRefreshWindow {refresh_window}
RTSessionCookieName rtsession
{server_extra}
<Location {location}>
  AuthType rtsession
  Require valid-user
  RTSessionUserClaim sub
  RTSessionUserHeader X-Remote-User
  RTSessionClaimHeader X-Remote-Email email
  RTSessionClaimHeader X-Remote-Name name
  RTSessionAccessTokenHeader X-Access-Token
  ProxyPass {backend_url}{location}
{location_extra}
</Location>
"""
