//! xvs-dataplane: sans-IO per-packet pipeline: DR, NAT, TUN and FullNAT.
