# Copyright (c) msg-gan-mmagic contributors. All rights reserved.
"""Export a checkpoint's generator to one ``.safetensors`` file for sharing.

The file holds the EMA generator's weights (``--model orig`` for the trained
one), the buffers sampling needs and, in its metadata, the generator's config.
It loads without unpickling: ``msg_plugin.exported_generator.load_generator``
or ``tools/sample.py FILE.safetensors``. The checkpoint itself is a pickle:
export trusted files only.
"""
import argparse
import os
import os.path as osp
from typing import List, Optional

import msg_plugin  # noqa: F401  (host workarounds before mmagic is imported)
from msg_plugin.exported_generator import (ExportError, find_run_config,
                                           load_checkpoint_generator,
                                           save_generator)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export the generator of a checkpoint to safetensors')
    parser.add_argument('checkpoint', help='mmengine checkpoint (iter_N.pth)')
    parser.add_argument(
        '--config',
        metavar='CFG',
        help='run config (default: the config saved next to the checkpoint, '
        'work_dirs/<cfg>/<cfg>.py)')
    parser.add_argument(
        '--out',
        metavar='FILE',
        help='output file (default: <checkpoint dir>/<checkpoint name>_'
        '<model>.safetensors)')
    parser.add_argument(
        '--model',
        choices=['ema', 'orig'],
        default='ema',
        help='the EMA generator (default) or the trained one')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> str:
    """Export a checkpoint's generator.

    Args:
        argv (list[str], optional): The arguments; ``sys.argv`` when None.

    Returns:
        str: The written file.
    """
    args = parse_args(argv)
    stem = osp.splitext(args.checkpoint)[0]
    out = args.out or f'{stem}_{args.model}.safetensors'
    if not out.endswith('.safetensors'):
        raise SystemExit(f'--out must end with .safetensors, got {out!r}.')
    try:
        config = args.config or find_run_config(args.checkpoint)
        generator, cfg = load_checkpoint_generator(args.checkpoint, config,
                                                   args.model)
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        save_generator(
            generator, cfg, out,
            dict(
                checkpoint=osp.basename(args.checkpoint),
                model=args.model,
                config=osp.basename(config)))
    except ExportError as err:
        raise SystemExit(f'export: {err}')
    print(f'Exported the {args.model} {cfg["type"]} to {out}')
    return out


if __name__ == '__main__':
    main()
