

def test_a_third_name_word_may_follow_a_middle_initial():
    text = "alojzija ana m. vujčič from Powell Industries Inc. is the keynote speaker"
    assert "alojzija ana m. vujčič" in values(text, find_names(text))
    form = "Name: ana karolina a. vodir"
    assert values(form, find_names(form)) == ["ana karolina a. vodir"]
    # A pronoun after a name is no initial: "I" starts the next clause.
    assert values("John Smith I went home early.", find_names("John Smith I went home early.")) == ["John Smith"]
