#!/bin/bash
# chain.sh with every VPN leg through hoprelayd, the LMTP daemon: Postfix's
# lmtp(8) on each node hands mail to the node's hoprelayd, which relays it
# to the next node with TLS, pins and client certificates (see the lmtp
# mode in tests/lib/chain-nodes.sh).  Same checks, same message IDs.
HM_TEST=${HM_TEST:-chain-lmtp} HM_CHAIN_RELAY=lmtp exec bash "$(dirname "$0")/chain.sh" "$@"
