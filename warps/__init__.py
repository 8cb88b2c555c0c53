"""The warps of the deformable skip connections: what each ``--warp_skip`` value adds to the networks
and the Keras layers that warp with it (``warp_types``), and the part warp's sampling arithmetic
(``warp_sampling``). The part transforms and masks they use are pose_transform.py's."""
