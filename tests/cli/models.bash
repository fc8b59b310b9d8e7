# Shared by eval.bats and predict.bats: a small dataset and three small models, made once
# per file in $BATS_FILE_TMPDIR: a (trained), b (trained from another seed) and z (all
# weights zero: every class equally likely, so every ranking is a tie).

NET=(--crop 67 --conv 16,32,32,32,32 --fc 64,64)
LEARN=(--batch 16 --epochs 6 --init-std 0.05 --init-bias 0.1 --lr 0.02 --dropout 0
       --lr-policy step --step-epochs 3 --gamma 0.3)

make_models() {
    cd "$BATS_FILE_TMPDIR" || return 1
    PATH="$ANET_BIN:$PATH"
    alexnet-synth -q --classes 4 --train 60 --val 15 --size 72-96 --seed 3 -o synth >/dev/null
    alexnet-prep -q --resize 72 synth/train -o train.lmdb >/dev/null
    alexnet-prep -q --resize 72 synth/val -o val.lmdb >/dev/null
    alexnet-stats -q train.lmdb -o stats >/dev/null
    local common=(--train train.lmdb --stats stats -j 2 -q "${NET[@]}")
    alexnet-train "${common[@]}" --val val.lmdb -o a "${LEARN[@]}" > a.tsv
    alexnet-train "${common[@]}" --val val.lmdb -o b "${LEARN[@]}" --seed 2 > b.tsv
    alexnet-train "${common[@]}" -o z --batch 16 --init-std 0 --init-bias 0 --lr 0 \
        --lr-policy fixed --max-iter 1 > /dev/null
    cp a/ckpt-00000090.anet a.anet && cp b/ckpt-00000090.anet b.anet &&
        cp z/ckpt-00000001.anet z.anet
}

D() { echo "$BATS_FILE_TMPDIR/$1"; }
