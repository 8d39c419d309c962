"""SFinGe-style synthetic fingerprints: pattern -> master -> impression, each stage a module.

- `seeding`: one independent random stream per (seed, finger, impression, purpose)
- `pattern`: finger class, singular points, orientation field (Sherlock-Monro), finger shape
- `distortion`: impression geometry (placement, rotation, Cappelli's elastic skin model)
"""
