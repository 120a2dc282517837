# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""The colour bitmaps of the Noto Color Emoji font (Debian's
``fonts-noto-color-emoji``), as an mmagic dataset of RGB images."""
import os
import os.path as osp
import warnings
from collections import defaultdict
from typing import (Callable, Dict, List, Optional, Sequence, Tuple,
                    Union)

import cv2
import numpy as np

from mmagic.registry import DATASETS
from .fashion_mnist_dataset import (fetch_hint, locate_offline_data,
                                    offline_data_dir)
from .mnist_dataset import InMemoryImageDataset, fit_square

NOTO_EMOJI_RELDIR = osp.join('usr', 'share', 'fonts', 'truetype', 'noto')
NOTO_EMOJI_FILE = 'NotoColorEmoji.ttf'
NOTO_EMOJI_PACKAGE = 'fonts-noto-color-emoji'
_FONTTOOLS_HINT = ('Run `tools/install.sh`, or install it alone with '
                   '`pip install fonttools==4.68.0`.')
_REGIONAL_INDICATORS = range(0x1F1E6, 0x1F200)  # pairs of them: flags
_TAGS = range(0xE0020, 0xE0080)  # black flag + tags: subdivision flags
_BLACK_FLAG = 0x1F3F4
_SKIN_TONES = range(0x1F3FB, 0x1F400)  # Fitzpatrick modifiers


def _open_font(path: str):
    """Open the font with fontTools, imported only when needed."""
    try:
        from fontTools.ttLib import TTFont
    except ImportError as err:
        raise ModuleNotFoundError(
            'NotoEmojiDataset reads the font with fontTools, which is not '
            f'installed. {_FONTTOOLS_HINT}') from err
    font = TTFont(path, lazy=True)
    if 'CBDT' not in font:
        raise ValueError(
            f'NotoEmojiDataset: {path} has no CBDT table (colour bitmaps): '
            'it is not the bitmap Noto Color Emoji font. '
            f'{fetch_hint(NOTO_EMOJI_PACKAGE)}')
    return font


def decode_emoji(pngs: Sequence[bytes], size: int) -> np.ndarray:
    """Decode RGBA PNGs into RGB images on white, square, of side ``size``.

    Each image is composited onto white by its alpha, padded with white to a
    square (the bitmaps are 136x128) and shrunk by area interpolation.

    Args:
        pngs (Sequence[bytes]): The PNG files.
        size (int): Side of the output images.

    Returns:
        np.ndarray: ``uint8`` array of shape (N, size, size, 3), RGB.
    """
    out = np.empty((len(pngs), size, size, 3), np.uint8)
    for i, png in enumerate(pngs):
        bgra = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
        if bgra is None:
            raise ValueError(f'NotoEmojiDataset: bitmap {i} of the font is '
                             'not a decodable PNG')
        if bgra.ndim == 2:
            bgra = cv2.cvtColor(bgra, cv2.COLOR_GRAY2BGRA)
        elif bgra.shape[2] == 3:
            bgra = cv2.cvtColor(bgra, cv2.COLOR_BGR2BGRA)
        alpha = bgra[..., 3:].astype(np.uint16)
        rgb = bgra[..., 2::-1].astype(np.uint16)
        rgb = (rgb * alpha + 255 * (255 - alpha) + 127) // 255
        out[i] = fit_square(rgb.astype(np.uint8)[None], size, fill=255)[0]
    return out


def emoji_sequences(font) -> Dict[str, List[Tuple[int, ...]]]:
    """The code point sequences that each glyph of the font renders.

    Single code points come from the ``cmap`` table, sequences (flags, skin
    tones, ZWJ sequences, keycaps) from the ligatures of the ``GSUB`` table.

    Args:
        font (fontTools.ttLib.TTFont): The font.

    Returns:
        dict[str, list[tuple[int, ...]]]: Glyph name -> its sequences.
    """
    sequences = defaultdict(list)
    for code, glyph in font.getBestCmap().items():
        sequences[glyph].append((code, ))
    first_code = {glyph: seqs[0][0] for glyph, seqs in sequences.items()}
    for lookup in font['GSUB'].table.LookupList.Lookup:
        for table in lookup.SubTable:
            table = getattr(table, 'ExtSubTable', table)
            for first, ligatures in getattr(table, 'ligatures', {}).items():
                for lig in ligatures:
                    parts = [first, *lig.Component]
                    if all(part in first_code for part in parts):
                        sequences[lig.LigGlyph].append(
                            tuple(first_code[part] for part in parts))
    return sequences


def _is_flag(seq: Tuple[int, ...]) -> bool:
    return (len(seq) == 2 and all(c in _REGIONAL_INDICATORS for c in seq)
            or seq[0] == _BLACK_FLAG and any(c in _TAGS for c in seq))


@DATASETS.register_module()
class NotoEmojiDataset(InMemoryImageDataset):
    """The 3,926 colour emoji of Noto Color Emoji, as RGB images on white.

    The font stores each emoji as a 136x128 RGBA PNG in its ``CBDT`` table
    (read with ``fontTools``). Every bitmap is composited onto white, padded
    with white to 136x136 and shrunk by area interpolation to ``img_size``
    (64 by default, giving MSG-GAN five scales: 4 ... 64; 128 at most). The
    set holds 1,895 skin-tone variants (counting the 5 tone swatches) and
    351 flags (250 country/region flags, 100 subdivision flags and the
    black flag); ``drop_skin_tones`` / ``drop_flags`` leave them out (1,680
    emoji remain without both).

    Decoding takes a few seconds, so the decoded array is cached per
    ``img_size`` as ``noto_emoji_<img_size>px_<font size>_<font mtime>.npy``
    in ``cache_dir`` and reused while the font file is unchanged.

    The font is looked for in, the first match wins: ``font_path``, else
    ``$MSG_NOTO_EMOJI`` (the file or its folder); when neither is set, the
    install cache (``$MSG_DATA_DIR``, default
    ``~/.cache/msg_plugin/offline_data``, plus
    ``usr/share/fonts/truetype/noto/NotoColorEmoji.ttf``, filled by
    ``tools/install.sh``), then ``/usr/share/fonts/truetype/noto``
    (``apt-get install fonts-noto-color-emoji``).

    Licence (Debian's copyright file of ``fonts-noto-color-emoji`` 2.042):
    the font is under the SIL Open Font License 1.1 and the upstream emoji
    artwork (googlefonts/noto-emoji, copyright 2013-2017 Google Inc.) under
    the Apache License 2.0. Images rendered from the font are not bound by
    the OFL; keep the Apache-2.0 notice when redistributing the images.

    Records are those of :class:`InMemoryImageDataset`: ``gt`` is
    ``np.uint8`` of shape (img_size, img_size, 3), RGB, packed by
    ``PackInputs()`` into ``data_samples.gt_img``; ``gt_path`` is
    ``'NotoColorEmoji.ttf#<glyph name>'``; there is no label.

    Args:
        img_size (int): Side of the square output images, a power of two
            from 4 to 128. Defaults to 64.
        font_path (str, optional): The font file (or its folder). Defaults to
            None (search as described above).
        drop_flags (bool): Leave out the 351 flags. Defaults to False.
        drop_skin_tones (bool): Leave out the 1,895 skin-tone variants (the
            default yellow emoji stay). Defaults to False.
        shuffle_order (bool): Order the emoji by a fixed random permutation
            (seed 0) instead of the font's order (keycaps first, skin-tone
            variants side by side), so that the first N items are a varied
            sample, as metrics reading the first N real images need.
            Defaults to False.
        cache_dir (str, optional): Folder of the decoded arrays. Defaults to
            None: ``decoded/`` in the install cache (``$MSG_DATA_DIR`` or
            ``~/.cache/msg_plugin/offline_data``).
        pipeline (list[dict | callable]): Processing pipeline, typically
            ``[dict(type='PackInputs')]``. Defaults to [].
        test_mode (bool): ``test_mode=True`` means in test phase.
            Defaults to False.
        metainfo (dict, optional): Meta information merged into
            :attr:`METAINFO`. Defaults to None.
        indices (int | Sequence[int], optional): Use only part of the data:
            the first ``indices`` items if an int, else those indices.
            Defaults to None (all).
        serialize_data (bool): Whether to hold the data list serialized, to
            share it between dataloader workers. Defaults to True.
        lazy_init (bool): Whether to defer decoding until the data is first
            needed. Defaults to False.
        max_refetch (int): How many times to refetch another sample when the
            pipeline returns None. Defaults to 1000.
    """

    METAINFO = dict(dataset_type='noto_emoji', task_name='generation')
    PAD_VALUE = 255
    MAX_IMG_SIZE = 128
    SIZE_HINT = ('Use img_size=64 (the default) or 128 (about the bitmaps\' '
                 'own 136x128), or 32, 16, 8, 4.')

    def __init__(self,
                 img_size: int = 64,
                 font_path: Optional[str] = None,
                 drop_flags: bool = False,
                 drop_skin_tones: bool = False,
                 shuffle_order: bool = False,
                 cache_dir: Optional[str] = None,
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 metainfo: Optional[dict] = None,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 lazy_init: bool = False,
                 max_refetch: int = 1000) -> None:
        self.check_img_size(img_size)  # before looking for the font
        self.drop_flags = drop_flags
        self.drop_skin_tones = drop_skin_tones
        self.cache_dir = cache_dir or osp.join(offline_data_dir(), 'decoded')
        font_path, = locate_offline_data('NotoEmojiDataset',
                                         (NOTO_EMOJI_FILE, ), font_path,
                                         'MSG_NOTO_EMOJI', NOTO_EMOJI_RELDIR,
                                         NOTO_EMOJI_PACKAGE)
        super().__init__(
            ann_file=osp.basename(font_path),
            data_root=osp.dirname(font_path),
            img_size=img_size,
            sample_order='shuffled' if shuffle_order else 'file',
            pipeline=pipeline,
            test_mode=test_mode,
            metainfo=metainfo,
            indices=indices,
            serialize_data=serialize_data,
            lazy_init=lazy_init,
            max_refetch=max_refetch)

    def own_metainfo(self) -> dict:
        """Add which emoji are left out (they key mmagic's real-statistics
        cache).

        Returns:
            dict: ``img_size``, ``sample_order``, ``drop_flags`` and
            ``drop_skin_tones``.
        """
        return dict(
            super().own_metainfo(),
            drop_flags=self.drop_flags,
            drop_skin_tones=self.drop_skin_tones)

    def cache_path(self) -> str:
        """The decoded array's file for this font file and ``img_size``.

        Returns:
            str: ``<cache_dir>/noto_emoji_<size>px_<bytes>_<mtime ns>.npy``.
        """
        stat = os.stat(self.ann_file)
        return osp.join(
            self.cache_dir, f'noto_emoji_{self.img_size}px_{stat.st_size}_'
            f'{stat.st_mtime_ns}.npy')

    def load_arrays(self) -> Tuple[np.ndarray, None, List[str]]:
        """Read the decoded emoji from the cache, or decode and cache them.

        Returns:
            tuple: The (N, img_size, img_size, 3) images, None (no labels)
            and their ``'<font file>#<glyph name>'`` paths.
        """
        font = _open_font(self.ann_file)
        strike = font['CBDT'].strikeData[-1]  # the only (largest) strike
        names = list(strike)
        shape = (len(names), self.img_size, self.img_size, 3)
        cache = self.cache_path()
        images = None
        if osp.isfile(cache):
            images = np.load(cache)
            if images.shape != shape or images.dtype != np.uint8:
                images = None  # written by other code: decode again
        if images is None:
            images = decode_emoji([strike[n].imageData for n in names],
                                  self.img_size)
            self._save(cache, images)
        keep = np.ones(len(names), bool)
        if self.drop_flags or self.drop_skin_tones:
            sequences = emoji_sequences(font)
            for i, name in enumerate(names):
                seqs = sequences.get(name, [])
                if self.drop_flags and any(_is_flag(s) for s in seqs):
                    keep[i] = False
                if self.drop_skin_tones and any(
                        c in _SKIN_TONES for s in seqs for c in s):
                    keep[i] = False
        source = osp.basename(self.ann_file)
        return images[keep], None, [
            f'{source}#{n}' for n, k in zip(names, keep) if k
        ]

    @staticmethod
    def _save(path: str, images: np.ndarray) -> None:
        """Write the cache atomically; only warn when that is impossible."""
        tmp = f'{path}.{os.getpid()}.tmp'
        try:
            os.makedirs(osp.dirname(path), exist_ok=True)
            with open(tmp, 'wb') as f:
                np.save(f, images)
            os.replace(tmp, path)
        except OSError as err:
            warnings.warn(f'NotoEmojiDataset: could not cache the decoded '
                          f'emoji in {path} ({err}); they will be decoded '
                          'again next time.')
            if osp.exists(tmp):
                os.remove(tmp)
