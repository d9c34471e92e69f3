// RUN: lctx-opt %s -split-input-file -verify-diagnostics
// Verifier rules of lctx.embedding: a [V, D] table with V > 0, integer ids
// and a floating-point table.

// The table must be [V, D].
func.func @table_rank(%table: tensor<256xf32>, %ids: tensor<2x16xi32>) {
  // expected-error @+1 {{expects table of rank 2 [V, D], got 'tensor<256xf32>'}}
  %0 = lctx.embedding %table, %ids : tensor<256xf32>, tensor<2x16xi32>
  return
}

// -----

// An empty vocabulary (V = 0) has no row to look up.
func.func @empty_table(%table: tensor<0x64xf32>, %ids: tensor<2x16xi32>) {
  // expected-error @+1 {{expects a non-empty table}}
  %0 = lctx.embedding %table, %ids : tensor<0x64xf32>, tensor<2x16xi32>
  return
}

// -----

// Ids are integers (ODS constraint).
func.func @float_ids(%table: tensor<256x64xf32>, %ids: tensor<2x16xf32>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of signless integer values, but got 'tensor<2x16xf32>'}}
  %0 = lctx.embedding %table, %ids : tensor<256x64xf32>, tensor<2x16xf32>
  return
}

// -----

// Ids are signless integers: unsigned ids are rejected (ODS constraint).
func.func @unsigned_ids(%table: tensor<256x64xf32>, %ids: tensor<2x16xui32>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of signless integer values, but got 'tensor<2x16xui32>'}}
  %0 = lctx.embedding %table, %ids : tensor<256x64xf32>, tensor<2x16xui32>
  return
}

// -----

// The table is floating point (ODS constraint).
func.func @integer_table(%table: tensor<256x64xi8>, %ids: tensor<2x16xi32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of floating-point values, but got 'tensor<256x64xi8>'}}
  %0 = lctx.embedding %table, %ids : tensor<256x64xi8>, tensor<2x16xi32>
  return
}

// -----

// Ids must be a ranked tensor: the custom syntax rejects an unranked type.
func.func @unranked_ids(%table: tensor<256x64xf32>, %ids: tensor<*xi32>) {
  // expected-error @+1 {{invalid kind of type specified}}
  %0 = lctx.embedding %table, %ids : tensor<256x64xf32>, tensor<*xi32>
  return
}
