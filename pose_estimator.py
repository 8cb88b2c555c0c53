"""The CMU OpenPose COCO body model (Cao et al., CVPR 2017) as a Keras 3 network (docs/reference.md, "Keypoint estimation").

The layer names are those of the reference's converted Keras file ``pose_estimator.h5`` (the
keras_Realtime_Multi-Person_Pose_Estimation naming, itself the Caffe names of
``pose_deploy_linevec.prototxt``), so the published weights load by name:

    VGG-19 front end   conv1_1 .. conv4_2, then conv4_3_CPM (256), conv4_4_CPM (128)    -> F, 1/8 size
    stage 1, branch b  conv5_1..3_CPM_Lb (3x3, 128), conv5_4_CPM_Lb (1x1, 512), conv5_5_CPM_Lb (1x1)
    stages 2-6         input concat(L1, L2, F); Mconv1..5_stageT_Lb (7x7, 128), Mconv6 (1x1, 128), Mconv7 (1x1)
    branch L1: 38 part-affinity channels; branch L2: 19 heatmaps (18 keypoints + background).

Input: a BGR image scaled as pixel/255 - 0.5 (the scaling is done by the caller, as in the reference);
outputs ``[part_affinity_fields (B, H/8, W/8, 38), heatmaps (B, H/8, W/8, 19)]``.

Weights come from the reference's Keras 2 ``.h5`` (full model or weights file), this project's Keras 3
weight files, or the original CMU Caffe file ``pose_iter_440000.caffemodel``, read directly (protobuf
wire format): OpenCV 5 dropped ``readNetFromCaffe``, and Caffe itself is not needed for 26 arrays of
weights.
"""
import os

import h5py
import keras
import numpy as np

NUMBER_OF_PAFS = 38
NUMBER_OF_HEATMAPS = 19  # 18 keypoints + background
NUMBER_OF_STAGES = 6

# (name, filters, kernel size) of the VGG-19 front end; 'pool' marks a 2x2 max-pooling.
_VGG_LAYERS = [('conv1_1', 64, 3), ('conv1_2', 64, 3), 'pool1_stage1',
               ('conv2_1', 128, 3), ('conv2_2', 128, 3), 'pool2_stage1',
               ('conv3_1', 256, 3), ('conv3_2', 256, 3), ('conv3_3', 256, 3), ('conv3_4', 256, 3), 'pool3_stage1',
               ('conv4_1', 512, 3), ('conv4_2', 512, 3), ('conv4_3_CPM', 256, 3), ('conv4_4_CPM', 128, 3)]

WHERE_TO_GET_WEIGHTS = (
    'Get the reference\'s converted Keras model "pose_estimator.h5" (link in the pose-gan README, '
    'https://github.com/AliaksandrSiarohin/pose-gan), or the original CMU files pose_deploy_linevec.prototxt + '
    'pose_iter_440000.caffemodel (https://github.com/CMU-Perceptual-Computing-Lab/openpose, models/getModels.sh: '
    'pose/coco/pose_iter_440000.caffemodel) and pass the .caffemodel as --pose_estimator.')


def _conv(x, filters, kernel_size, name, relu=True):
    x = keras.layers.Conv2D(filters, kernel_size, padding='same', name=name)(x)
    return keras.layers.Activation('relu', name=name + '_relu')(x) if relu else x


def _stage1_block(features, outputs, branch):
    x = features                                                       # (B, h, w, 128)
    for i in (1, 2, 3):
        x = _conv(x, 128, 3, 'conv5_%d_CPM_L%d' % (i, branch))          # (B, h, w, 128)
    x = _conv(x, 512, 1, 'conv5_4_CPM_L%d' % branch)                   # (B, h, w, 512)
    return _conv(x, outputs, 1, 'conv5_5_CPM_L%d' % branch, relu=False)  # (B, h, w, outputs)


def _stage_t_block(x, outputs, stage, branch):
    for i in range(1, 6):
        x = _conv(x, 128, 7, 'Mconv%d_stage%d_L%d' % (i, stage, branch))  # (B, h, w, 128)
    x = _conv(x, 128, 1, 'Mconv6_stage%d_L%d' % (stage, branch))          # (B, h, w, 128)
    return _conv(x, outputs, 1, 'Mconv7_stage%d_L%d' % (stage, branch), relu=False)


def make_pose_estimator(stages=NUMBER_OF_STAGES):
    """The OpenPose COCO network, any input size: BGR/255 - 0.5 -> [PAFs (38), heatmaps (19)] at 1/8 size."""
    image = keras.Input((None, None, 3), name='image')                 # (B, H, W, 3)
    x = image
    for layer in _VGG_LAYERS:
        if isinstance(layer, str):
            x = keras.layers.MaxPooling2D(2, 2, name=layer)(x)
        else:
            name, filters, kernel_size = layer
            x = _conv(x, filters, kernel_size, name)
    features = x                                                       # (B, H/8, W/8, 128)
    pafs = _stage1_block(features, NUMBER_OF_PAFS, 1)                  # (B, H/8, W/8, 38)
    heatmaps = _stage1_block(features, NUMBER_OF_HEATMAPS, 2)          # (B, H/8, W/8, 19)
    for stage in range(2, stages + 1):
        x = keras.layers.Concatenate(name='concat_stage%d' % stage)([pafs, heatmaps, features])  # (B, h, w, 185)
        pafs = _stage_t_block(x, NUMBER_OF_PAFS, stage, 1)
        heatmaps = _stage_t_block(x, NUMBER_OF_HEATMAPS, stage, 2)
    return keras.Model(image, [pafs, heatmaps], name='pose_estimator')


def weighted_convolutions(model):
    """name -> Conv2D layer, the layers that carry weights."""
    return {layer.name: layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)}


# ---- Weights ---------------------------------------------------------------------------------------

def _keras2_h5_weights(path):
    """name -> [kernel, bias] of a Keras 2 .h5 (full model: group model_weights; weights file: the root)."""
    with h5py.File(path, 'r') as f:
        root = f['model_weights'] if 'model_weights' in f else f
        if 'layer_names' not in root.attrs:
            return None
        weights = {}
        for layer_name in root.attrs['layer_names']:
            layer_name = layer_name.decode() if isinstance(layer_name, bytes) else layer_name
            group = root[layer_name]
            names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs.get('weight_names', [])]
            if names:
                # 'conv1_1/kernel:0' then 'conv1_1/bias:0' (the order Keras 2 saved them in).
                weights[layer_name] = [np.asarray(group[name]) for name in names]
        return weights


def _read_varint(buffer, position):
    result, shift = 0, 0
    while True:
        byte = buffer[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _protobuf_fields(buffer):
    """(field number, wire type, value) of one protobuf message; value is an int or a memoryview."""
    position, end = 0, len(buffer)
    while position < end:
        key, position = _read_varint(buffer, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, position = _read_varint(buffer, position)
        elif wire_type == 1:
            value, position = buffer[position:position + 8], position + 8
        elif wire_type == 2:
            length, position = _read_varint(buffer, position)
            value, position = buffer[position:position + length], position + length
        elif wire_type == 5:
            value, position = buffer[position:position + 4], position + 4
        else:
            raise ValueError('unsupported protobuf wire type %d' % wire_type)
        yield number, wire_type, value


def _caffe_blob(buffer):
    """A caffe BlobProto -> float32 array of its shape (shape field 7, or legacy num/channels/height/width)."""
    data, shape, legacy = [], None, {}
    for number, wire_type, value in _protobuf_fields(buffer):
        if number == 5:  # data, packed floats (or one unpacked float)
            data.append(np.frombuffer(bytes(value), dtype='<f4'))
        elif number == 7:  # BlobShape: repeated int64 dim = 1 (packed or not)
            shape = []
            for dim_number, dim_type, dim in _protobuf_fields(value):
                if dim_type == 2:
                    packed, position = bytes(dim), 0
                    while position < len(packed):
                        d, position = _read_varint(packed, position)
                        shape.append(d)
                else:
                    shape.append(dim)
        elif number in (1, 2, 3, 4) and wire_type == 0:
            legacy[number] = value
    data = np.concatenate(data) if data else np.zeros(0, np.float32)
    if shape is None:
        shape = [legacy.get(i, 1) for i in (1, 2, 3, 4)]
    return data.reshape(shape)


def _caffemodel_weights(path):
    """name -> [weights (out, in, kh, kw), bias] of the layers of a .caffemodel with blobs.

    NetParameter.layer (field 100) is a LayerParameter: name = 1, blobs = 7; the legacy
    NetParameter.layers (field 2) is a V1LayerParameter: name = 4, blobs = 6.
    """
    with open(path, 'rb') as f:
        buffer = memoryview(f.read())
    weights = {}
    for number, wire_type, value in _protobuf_fields(buffer):
        if wire_type != 2 or number not in (100, 2):
            continue
        name_field, blob_field = (1, 7) if number == 100 else (4, 6)
        name, blobs = None, []
        for field, _, content in _protobuf_fields(value):
            if field == name_field:
                name = bytes(content).decode()
            elif field == blob_field:
                blobs.append(_caffe_blob(content))
        if name and blobs:
            weights[name] = blobs
    return weights


def _caffe_to_keras(blobs):
    kernel, bias = blobs[0], blobs[1].reshape(-1)
    return [np.transpose(kernel, (2, 3, 1, 0)), bias]  # (out, in, kh, kw) -> (kh, kw, in, out)


def load_pose_estimator_weights(model, path):
    """Loads the weights of ``path`` into ``model`` by layer name.

    Reads the reference's Keras 2 .h5 (full model or weights only), a .caffemodel, or this project's
    Keras 3 files (.weights.h5, .keras). A missing layer or a shape that differs is refused with the
    layer's name.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError('pose estimator weights not found: %s. %s' % (path, WHERE_TO_GET_WEIGHTS))
    if path.endswith('.caffemodel'):
        weights = {name: _caffe_to_keras(blobs) for name, blobs in _caffemodel_weights(path).items()
                   if len(blobs) == 2}
    elif path.endswith('.keras'):
        model.set_weights(keras.saving.load_model(path, compile=False).get_weights())
        return model
    else:
        weights = _keras2_h5_weights(path)
        if weights is None:  # a Keras 3 weights file
            model.load_weights(path)
            return model
    for name, layer in weighted_convolutions(model).items():
        if name not in weights:
            raise ValueError('%s has no weights for layer %s of the pose estimator' % (path, name))
        expected = [tuple(w.shape) for w in layer.get_weights()]
        found = [tuple(w.shape) for w in weights[name]]
        if expected != found:
            raise ValueError('%s: layer %s has weights of shapes %s, the pose estimator needs %s'
                             % (path, name, found, expected))
        layer.set_weights(weights[name])
    return model


def load_pose_estimator(path):
    """The pose estimator with the weights of ``path``, frozen (it is never trained here: keypoints and
    the struct loss only); a clear message where to get the weights if they are missing."""
    if not os.path.isfile(path):
        raise FileNotFoundError('pose estimator weights not found: %s. %s' % (path, WHERE_TO_GET_WEIGHTS))
    model = load_pose_estimator_weights(make_pose_estimator(), path)
    model.trainable = False
    return model


def estimate_maps(model, bgr_images):
    """(PAFs, heatmaps) as numpy of a batch of BGR images already scaled to pixel/255 - 0.5."""
    pafs, heatmaps = model(np.asarray(bgr_images, dtype=np.float32), training=False)
    return keras.ops.convert_to_numpy(pafs), keras.ops.convert_to_numpy(heatmaps)


def pose_heatmaps(model, images):
    """The 18 keypoint heatmaps (B, H/8, W/8, 18) of RGB images in [-1, 1], differentiable (struct loss).

    As the reference's struct loss: channels reversed to BGR and halved, (x + 1)/2 - 0.5 = x/2,
    i.e. pixel/255 - 0.5 (docs/reference.md, "Losses and training").
    """
    heatmaps = model(keras.ops.flip(images, axis=-1) / 2, training=False)[1]
    return heatmaps[..., :NUMBER_OF_HEATMAPS - 1]
