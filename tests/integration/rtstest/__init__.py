# SPDX-License-Identifier: Apache-2.0
"""Integration test harness for mod_rtsession (modelled on httpd's pyhttpd, our own code)."""
