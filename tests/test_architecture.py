"""The shape of the code base: no import cycle among the repository's modules, the reusable ``gan``
package independent of the pose-specific modules at the root, and the flag choices of the network
variants equal to their one definition each."""
import ast
import os


import cmd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIPPED_FOLDERS = {'.git', '__pycache__', 'output', 'tmp', 'build', 'deformable_gan.egg-info'}


def repository_modules():
    """{module name: file} of every Python file of the repository (scripts in folders that are not
    packages, such as sup-mat/, under their path)."""
    modules = {}
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = sorted(d for d in subfolders if d not in SKIPPED_FOLDERS and not d.startswith('.'))
        for file in files:
            if file.endswith('.py'):
                relative = os.path.relpath(os.path.join(folder, file), ROOT)[:-3]
                name = relative.replace(os.sep, '.')
                modules[name[:-len('.__init__')] if name.endswith('.__init__') else name] = \
                    os.path.join(folder, file)
    return modules


def imported_names(path):
    """Every module name an import statement of the file names, at any depth (function-level too)."""
    names = set()
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update('%s.%s' % (node.module, alias.name) for alias in node.names)
    return names


def import_graph():
    """{module: set of the repository's modules it imports}."""
    modules = repository_modules()
    graph = {}
    for name, path in modules.items():
        graph[name] = {imported for imported in imported_names(path)
                       if imported in modules and imported != name}
    return graph


def find_cycle(graph):
    """One import cycle as a list of modules (first == last), or None."""
    state = {}

    def visit(node, path):
        state[node] = 'open'
        for successor in sorted(graph[node]):
            if state.get(successor) == 'open':
                return path[path.index(successor):] + [successor]
            if successor not in state:
                cycle = visit(successor, path + [successor])
                if cycle:
                    return cycle
        state[node] = 'done'
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [start])
            if cycle:
                return cycle
    return None


def test_the_scan_sees_the_known_imports():
    graph = import_graph()
    assert 'cmd' in graph['train']
    assert {'cmd', 'create_pairs_dataset'} <= graph['data.make_synthetic_dataset']
    assert 'gan.dataset' in graph['pose_dataset']


def test_no_import_cycle_among_the_repository_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, 'import cycle: ' + ' -> '.join(cycle)


def test_gan_imports_nothing_from_the_repository_root():
    graph = import_graph()
    offending = {'%s -> %s' % (name, imported) for name, imports in graph.items() if name.split('.')[0] == 'gan'
                 for imported in imports if imported.split('.')[0] != 'gan'}
    assert not offending, sorted(offending)


def _choices(flag):
    parser = cmd.train_parser()
    return tuple(next(action for action in parser._actions if action.dest == flag).choices)


def test_the_warp_skip_choices_are_the_warp_types():
    from warps import warp_types
    assert set(_choices('warp_skip')) == set(warp_types.WARP_TYPES)


def test_the_disc_type_choices_are_the_discriminator_builders():
    import conv_layers
    assert set(_choices('disc_type')) == set(conv_layers.DISCRIMINATORS)
