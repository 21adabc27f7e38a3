package docscheck

import (
	"bufio"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// Module is what the docs may name in one checkout: its files, its Make
// targets, the Go declarations of each package, the names the packages go
// by, and the strings its tests assert.
type Module struct {
	fsys    fs.FS
	path    string          // the module path of go.mod
	targets map[string]bool // of the Makefile
	// decls holds, per package directory, every top-level name and every
	// method and field as "Type.Name".
	decls map[string]map[string]bool
	// qualifiers maps a package name, or an alias it is imported under
	// (ipamv1alpha1), to the package directories it stands for.
	qualifiers map[string][]string
	// external holds the names under which the module imports packages from
	// outside it (metav1, skel): the docs may cite those unchecked.
	external    map[string]bool
	testFuncs   map[string]bool // Test..., Benchmark..., Fuzz..., Example...
	testStrings []string        // string constants in _test.go files
	// words holds every identifier and every word of a string literal or
	// field tag of the module's Go files.
	words map[string]bool
}

var (
	testFuncRE     = regexp.MustCompile(`^(Test|Benchmark|Fuzz|Example)([A-Z_0-9]|$)`)
	majorVersionRE = regexp.MustCompile(`^v[0-9]+$`)
	targetRE       = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9_.-]*(?:[ \t]+[A-Za-z0-9][A-Za-z0-9_.-]*)*)[ \t]*:([^=]|$)`)
)

// LoadModule reads the checkout at the root of fsys: go.mod, the Makefile
// and every Go file of the module (not those of nested modules, testdata or
// hidden directories). The strings of the tests in ownDir, this check's own
// package, do not count as asserted messages: its samples would otherwise
// vouch for themselves.
func LoadModule(fsys fs.FS, ownDir string) (*Module, error) {
	m := &Module{
		fsys:       fsys,
		targets:    map[string]bool{},
		decls:      map[string]map[string]bool{},
		qualifiers: map[string][]string{},
		external:   map[string]bool{},
		testFuncs:  map[string]bool{},
		words:      map[string]bool{},
	}
	if err := m.readGoMod(); err != nil {
		return nil, err
	}
	if err := m.readMakefile(); err != nil {
		return nil, err
	}
	files, err := goFiles(fsys)
	if err != nil {
		return nil, fmt.Errorf("list the module's Go files: %w", err)
	}
	if err := m.readManifestWords(); err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	for _, name := range files {
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		m.addFile(name, f, path.Dir(name) != ownDir)
	}
	return m, nil
}

func (m *Module) readGoMod() error {
	src, err := fs.ReadFile(m.fsys, "go.mod")
	if err != nil {
		return fmt.Errorf("read the module's go.mod: %w", err)
	}
	for _, line := range strings.Split(string(src), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			m.path = strings.Trim(strings.TrimSpace(rest), `"`)
			return nil
		}
	}
	return fmt.Errorf("go.mod has no module line")
}

func (m *Module) readMakefile() error {
	f, err := m.fsys.Open("Makefile")
	if err != nil {
		return fmt.Errorf("read the Makefile: %w", err)
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if g := targetRE.FindStringSubmatch(sc.Text()); g != nil {
			for _, t := range strings.Fields(g[1]) {
				m.targets[t] = true
			}
		}
	}
	return sc.Err()
}

// goFiles lists the Go files of the module rooted at fsys.
func goFiles(fsys fs.FS) ([]string, error) {
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && skipDir(fsys, p, d.Name()) {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".go") {
			files = append(files, p)
		}
		return nil
	})
	return files, err
}

// skipDir says whether the go tool ignores directory p of the module, or
// p is a module of its own.
func skipDir(fsys fs.FS, p, name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor" {
		return true
	}
	_, err := fs.Stat(fsys, path.Join(p, "go.mod"))
	return err == nil
}

// dirOf returns the directory of the module's package importPath.
func (m *Module) dirOf(importPath string) (string, bool) {
	if importPath == m.path {
		return ".", true
	}
	rest, ok := strings.CutPrefix(importPath, m.path+"/")
	return rest, ok
}

func (m *Module) addQualifier(q, dir string) {
	for _, d := range m.qualifiers[q] {
		if d == dir {
			return
		}
	}
	m.qualifiers[q] = append(m.qualifiers[q], dir)
}

// addFile records the declarations, imports and, for a test file, the test
// functions and strings of f, the file name of the package in its
// directory.
func (m *Module) addFile(name string, f *ast.File, countStrings bool) {
	dir := path.Dir(name)
	if pkg := strings.TrimSuffix(f.Name.Name, "_test"); pkg != "main" {
		m.addQualifier(pkg, dir)
	}
	for _, imp := range f.Imports {
		importPath, _ := strconv.Unquote(imp.Path.Value)
		if dir, ok := m.dirOf(importPath); ok {
			m.addQualifier(importName(imp, importPath), dir)
		} else {
			m.external[importName(imp, importPath)] = true
		}
	}
	if m.decls[dir] == nil {
		m.decls[dir] = map[string]bool{}
	}
	isTest := strings.HasSuffix(name, "_test.go")
	for _, decl := range f.Decls {
		for _, n := range declaredNames(decl) {
			m.decls[dir][n] = true
			if isTest && testFuncRE.MatchString(n) {
				m.testFuncs[n] = true
			}
		}
	}
	if isTest && countStrings {
		m.testStrings = append(m.testStrings, stringConstants(f)...)
	}
	if countStrings {
		m.addWords(f)
	}
}

// manifestDirs hold the YAML the module generates and ships, whose field
// names and values the docs cite as the code's.
var manifestDirs = []string{"config", "bundle"}

// readManifestWords records the words of the YAML files under
// manifestDirs: the API's field names (generateName, lastTransitionTime)
// are there, not in the module's Go code.
func (m *Module) readManifestWords() error {
	for _, dir := range manifestDirs {
		err := fs.WalkDir(m.fsys, dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || path.Ext(p) != ".yaml" {
				return err
			}
			data, err := fs.ReadFile(m.fsys, p)
			for _, w := range wordRE.FindAllString(string(data), -1) {
				m.words[w] = true
			}
			return err
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("read the manifests under %s: %w", dir, err)
		}
	}
	return nil
}

// wordRE matches a word of a string literal.
var wordRE = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

// addWords records the identifiers of f and the words of its string
// literals, field tags included.
func (m *Module) addWords(f *ast.File) {
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.Ident:
			m.words[n.Name] = true
		case *ast.BasicLit:
			if n.Kind == token.STRING {
				for _, w := range wordRE.FindAllString(n.Value, -1) {
					m.words[w] = true
				}
			}
		}
		return true
	})
}

// importName is the name a file refers to an import by: its alias, or the
// last element of its path without a major version suffix (the package's
// usual name).
func importName(imp *ast.ImportSpec, importPath string) string {
	if imp.Name != nil && imp.Name.Name != "_" && imp.Name.Name != "." {
		return imp.Name.Name
	}
	elems := strings.Split(importPath, "/")
	last := elems[len(elems)-1]
	if len(elems) > 1 && majorVersionRE.MatchString(last) {
		last = elems[len(elems)-2]
	}
	return last
}

// declaredNames lists the names decl declares: functions, types, variables
// and constants by name, methods, struct fields and interface methods as
// "Type.Name".
func declaredNames(decl ast.Decl) []string {
	var names []string
	switch d := decl.(type) {
	case *ast.FuncDecl:
		if d.Recv == nil || len(d.Recv.List) == 0 {
			return []string{d.Name.Name}
		}
		return []string{receiverType(d.Recv.List[0].Type) + "." + d.Name.Name}
	case *ast.GenDecl:
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.TypeSpec:
				names = append(names, s.Name.Name)
				names = append(names, memberNames(s.Name.Name, s.Type)...)
			case *ast.ValueSpec:
				for _, n := range s.Names {
					names = append(names, n.Name)
				}
			}
		}
	}
	return names
}

// memberNames lists the fields of a struct type or the methods of an
// interface type, each as "typeName.Name".
func memberNames(typeName string, t ast.Expr) []string {
	var fields *ast.FieldList
	switch t := t.(type) {
	case *ast.StructType:
		fields = t.Fields
	case *ast.InterfaceType:
		fields = t.Methods
	default:
		return nil
	}
	var names []string
	for _, f := range fields.List {
		for _, n := range f.Names {
			names = append(names, typeName+"."+n.Name)
		}
		if len(f.Names) == 0 { // embedded: known by its type's name
			names = append(names, typeName+"."+receiverType(f.Type))
		}
	}
	return names
}

// receiverType is the name of the type of a receiver or embedded field:
// T for T, *T, T[K] and pkg.T.
func receiverType(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.StarExpr:
		return receiverType(e.X)
	case *ast.IndexExpr:
		return receiverType(e.X)
	case *ast.IndexListExpr:
		return receiverType(e.X)
	case *ast.SelectorExpr:
		return e.Sel.Name
	case *ast.Ident:
		return e.Name
	}
	return ""
}

// stringConstants lists the string literals of f, literals joined by +
// as one string.
func stringConstants(f *ast.File) []string {
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		e, ok := n.(ast.Expr)
		if !ok {
			return true
		}
		if s, ok := constString(e); ok {
			out = append(out, s)
			return false
		}
		return true
	})
	return out
}

// constString returns the value of a string literal, or of a sum of them.
func constString(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.ParenExpr:
		return constString(e.X)
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", false
		}
		x, ok := constString(e.X)
		if !ok {
			return "", false
		}
		y, ok := constString(e.Y)
		return x + y, ok
	}
	return "", false
}
