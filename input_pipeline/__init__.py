"""The batches of (source, target) pairs: every network input made by numpy code (``pose_batches``, on
every backend, in worker processes) and the tf.data maps that run the same code on the TensorFlow
backend (``pose_tf_data``). pose_dataset.py chooses between them."""
