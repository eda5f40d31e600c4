"""Policy file formats: YAML, ipsec_config batch, ip xfrm, swanctl.conf; writers."""
